"""``dblab.notebooks``: a server run leaves out the cells tagged once."""

from __future__ import annotations

from pathlib import Path

import nbformat

from dblab import notebooks


def tiny_notebook(folder: Path) -> Path:
    """Three cells; the middle one writes a file and is tagged ONCE."""
    book = nbformat.v4.new_notebook()
    book.cells = [
        nbformat.v4.new_code_cell("import os\nprint('first')"),
        nbformat.v4.new_code_cell(
            "open('once.txt', 'w').write(os.environ['DBLAB_SCALE'])",
            metadata={"tags": [notebooks.ONCE]},
        ),
        nbformat.v4.new_code_cell(
            "print(os.environ.get('DBLAB_DATABASE_URL', 'sqlite'))"
        ),
    ]
    path = folder / "tiny.ipynb"
    nbformat.write(book, path)
    return path


def test_the_sqlite_run_executes_every_cell(tmp_path: Path) -> None:
    ran = notebooks.execute(tiny_notebook(tmp_path))
    assert len(ran.cells) == 3
    assert (tmp_path / "once.txt").read_text() == "test"
    assert ran.cells[2].outputs[0]["text"] == "sqlite\n"


def test_a_server_run_leaves_out_the_tagged_cells(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # never opened
    ran = notebooks.execute(tiny_notebook(tmp_path), database_url=url)
    assert [c.source.splitlines()[-1] for c in ran.cells] == [
        "print('first')",
        "print(os.environ.get('DBLAB_DATABASE_URL', 'sqlite'))",
    ]
    assert not (tmp_path / "once.txt").exists()
    assert ran.cells[1].outputs[0]["text"] == url + "\n"
