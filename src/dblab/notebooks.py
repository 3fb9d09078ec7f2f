"""``dblab run-notebooks``: re-execute notebooks and store their outputs.

Every notebook is committed with the outputs of a clean top-to-bottom run
from a fresh kernel, which strict nbval then compares. This command makes
that run the same way each time: the notebook's own folder as working
directory, ``DBLAB_SCALE=test``, the sandboxes on SQLite (server URLs for
the comparison sections are passed through), execution counts 1..n, and
no timing metadata in the file.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from dblab import settings

SETUP_CELL = """\
# セットアップ: どのノートブックもこのセルから始めます
import sqlalchemy as sa

import dblab
from dblab import checks, migrate, sandbox, schema, settings, sqllog

print(dblab.setup())"""

TIMEOUT = 600
ONCE = "same-on-every-database"
"""Tag of a cell whose result does not depend on the notebook's database.

Such a cell compares the databases itself (it opens its own sandboxes on
SQLite and on every configured server) or never touches the notebook's
database (a subprocess on SQLite, a Git history). The run on SQLite,
with the server URLs passed through, executes it; the runs with
``DBLAB_DATABASE_URL`` on a server leave it out instead of repeating it.
"""


def all_notebooks() -> list[Path]:
    """The course notebooks and their solutions, in lecture order."""
    root = settings.NOTEBOOKS
    return sorted(root.glob("[0-9][0-9]_*.ipynb")) + sorted(
        (root / "solutions").glob("[0-9][0-9]_*.ipynb")
    )


def kernel_env(database_url: str | None = None) -> dict[str, str]:
    """The environment a notebook kernel runs in."""
    env = dict(os.environ)
    env["DBLAB_SCALE"] = "test"
    env["DBLAB_PROGRESS"] = "off"  # re-running is not the learner
    env.pop("DBLAB_DATABASE_URL", None)
    if database_url:
        env["DBLAB_DATABASE_URL"] = database_url
    return env


def execute(
    path: Path, database_url: str | None = None
) -> nbformat.NotebookNode:
    """Run ``path`` top to bottom in a fresh kernel; return the notebook.

    With ``database_url`` (a run on a server) the cells tagged
    :data:`ONCE` are left out: the run on SQLite has executed them.
    """
    notebook = nbformat.read(path, as_version=4)
    if database_url:
        notebook.cells = [
            cell
            for cell in notebook.cells
            if ONCE not in cell.metadata.get("tags", [])
        ]
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    client.execute(env=kernel_env(database_url))
    return notebook


def store(path: Path, notebook: nbformat.NotebookNode) -> None:
    """Write the executed notebook without volatile metadata."""
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.metadata.pop("collapsed", None)
    nbformat.write(notebook, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="実行するノートブック (省略時はすべて)",
    )


def run(args: argparse.Namespace) -> int:
    paths = [p.resolve() for p in args.paths] or all_notebooks()
    for path in paths:
        print(f"実行中: {path.relative_to(settings.ROOT)}", flush=True)
        store(path, execute(path))
    print(f"{len(paths)} 冊のノートブックを実行して保存しました。")
    return 0
