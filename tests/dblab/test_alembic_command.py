"""dblab.alembic_command: the alembic command line run in this process."""

from __future__ import annotations

import logging
import os
import shutil

from dblab import alembic_command, revisions, settings


def folder_with_ini(tmp_path):
    shutil.copy(settings.ALEMBIC_INI, tmp_path / "alembic.ini")
    (tmp_path / "alembic.ini").write_text(
        (tmp_path / "alembic.ini")
        .read_text(encoding="utf-8")
        .replace("%(here)s/migrations", str(settings.MIGRATIONS)),
        encoding="utf-8",
    )
    return tmp_path


def test_upgrade_current_and_a_failure_like_a_process(tmp_path) -> None:
    folder = folder_with_ini(tmp_path)
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    os.environ.pop("CANARY", None)

    done = alembic_command.run(
        "upgrade", "head", cwd=folder, env={"DATABASE_URL": url}
    )
    assert done.returncode == 0, done.output
    assert done.stderr.count("Running upgrade") == len(revisions.CHAIN)
    now = alembic_command.run(
        "current", cwd=folder, env={"DATABASE_URL": url, "CANARY": "1"}
    )
    assert now.stdout.strip() == f"{revisions.HEAD} (head)"
    assert "CANARY" not in os.environ  # the environment is put back
    assert (root.handlers, root.level) == (handlers, level)

    failed = alembic_command.run(
        "downgrade", "nosuchrevision", cwd=folder, env={"DATABASE_URL": url}
    )
    assert failed.returncode == 255
    assert "FAILED" in failed.output
