"""The notebooks keep their frame, and run on the servers too.

Strict nbval (``--nbval`` in pyproject.toml) compares every committed
output on SQLite. Here: the fixed frame of every notebook, a clean
top-to-bottom run stored (counts 1..n), and the second pass: the
notebooks that declare they differ by database run against PostgreSQL
and MariaDB, where their cells assert what lax mode cannot compare.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from dblab import notebooks

COURSE = [p for p in notebooks.all_notebooks() if p.parent.name != "solutions"]
SOLUTIONS = [
    p for p in notebooks.all_notebooks() if p.parent.name == "solutions"
]


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_the_course_starts_with_notebook_00() -> None:
    assert COURSE and COURSE[0].name == "00_start_here.ipynb"


@pytest.mark.parametrize("path", COURSE, ids=ids(COURSE))
def test_course_notebook_keeps_the_frame(path: Path) -> None:
    cells = read(path).cells
    title = cells[0].source.splitlines()[0]
    assert cells[0].cell_type == "markdown"
    assert re.match(r"# \d\d ", title), title
    assert "所要時間" in title, title
    headings = [
        line
        for cell in cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]
    assert headings[0] == "## この回の目標", headings
    assert "## まとめ" in headings and "## 演習" in headings, headings
    assert headings.index("## まとめ") < headings.index("## 演習")
    solution = path.parent / "solutions" / f"{path.stem}_solutions.ipynb"
    assert solution.exists(), f"解答がありません: {solution.name}"


SUMMARY = re.compile(r"<details><summary>ヒント (\d+)</summary>")


def exercise_section(path: Path) -> list[nbformat.NotebookNode]:
    cells = read(path).cells
    start = next(
        i
        for i, c in enumerate(cells)
        if c.cell_type == "markdown" and c.source.startswith("## 演習")
    )
    return cells[start:]


@pytest.mark.parametrize("path", COURSE, ids=ids(COURSE))
def test_every_exercise_has_progressive_hints(path: Path) -> None:
    """Each exercise: >= 2 collapsed hints, numbered, then the solutions."""
    cells = exercise_section(path)
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    numbers = sorted({int(n) for n in re.findall(r"\*\*演習 (\d+)", text)})
    assert numbers == list(range(1, len(numbers) + 1)) and numbers, numbers
    pointer = f"solutions/{path.stem}_solutions.ipynb"
    first_hint = None
    for number in numbers:
        found = [
            i
            for i, c in enumerate(cells)
            if c.cell_type == "markdown"
            and c.source.startswith(f"**演習 {number} のヒント**")
        ]
        assert len(found) == 1, f"演習 {number} のヒントのセル: {found}"
        first_hint = found[0] if first_hint is None else first_hint
        source = cells[found[0]].source
        hints = [int(k) for k in SUMMARY.findall(source)]
        assert len(hints) >= 2 and hints == list(range(1, len(hints) + 1))
        assert source.count("<details>") == source.count("</details>")
        assert pointer in source, f"演習 {number}: {pointer} がありません"
        assert source.rindex("</details>") < source.index(pointer)
    before = [c.source for c in cells[:first_hint] if pointer in c.source]
    assert not before, "ヒントより前に解答例の案内があります"


@pytest.mark.parametrize(
    "path", notebooks.all_notebooks(), ids=ids(notebooks.all_notebooks())
)
def test_notebook_is_stored_from_a_clean_run(path: Path) -> None:
    cells = read(path).cells
    code = [c for c in cells if c.cell_type == "code"]
    assert code[0].source == notebooks.SETUP_CELL, (
        "最初のコードセルは共通のセットアップセル"
    )
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), counts
    for cell in code:
        assert "execution" not in cell.metadata
        tags = cell.metadata.get("tags", [])
        for output in cell.outputs:
            if output.output_type == "error":
                assert "raises-exception" in tags, cell.source[:80]


@pytest.mark.parametrize("path", SOLUTIONS, ids=ids(SOLUTIONS))
def test_solutions_assert_every_checker(path: Path) -> None:
    source = "\n".join(
        c.source for c in read(path).cells if c.cell_type == "code"
    )
    results = len(re.findall(r"\bresult\s*=", source))
    asserted = len(re.findall(r"assert result\.ok", source))
    assert results and asserted >= results, (results, asserted)


SERVER_NOTEBOOKS = [
    p
    for p in COURSE
    if read(p).metadata.get("dblab", {}).get("differs_by_database")
]


def test_cells_run_once_only_where_servers_run_again() -> None:
    """The tag that a server run skips belongs to code cells of the
    notebooks that run again on each server (elsewhere it means nothing)."""
    for path in COURSE:
        for cell in read(path).cells:
            if notebooks.ONCE in cell.metadata.get("tags", []):
                assert cell.cell_type == "code", path.name
                assert path in SERVER_NOTEBOOKS, path.name


def run_on_server(path: Path, server) -> None:
    url = server.render_as_string(hide_password=False)
    try:
        notebooks.execute(path, database_url=url)
    except CellExecutionError as error:
        pytest.fail(
            f"{path.name} on {server.get_backend_name()}:\n{error}",
            pytrace=False,
        )


def server_runs(path: Path) -> type:
    """A test class running ``path`` on PostgreSQL and on MariaDB.

    With ``--dist loadscope`` each class is one unit of work, so the xdist
    workers share out the notebooks instead of queueing them on one.
    """

    @pytest.mark.server
    @pytest.mark.parametrize("backend", ["postgresql", "mysql"])
    class Runs:
        def test_runs_on_server(self, server) -> None:
            run_on_server(path, server)

    Runs.__name__ = Runs.__qualname__ = f"TestOnServers{path.stem[:2]}"
    return Runs


for _path in SERVER_NOTEBOOKS:
    _runs = server_runs(_path)
    globals()[_runs.__name__] = _runs
