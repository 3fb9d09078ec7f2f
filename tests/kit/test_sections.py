"""Every "re-read this section" pointer in the kit names a real section.

Checkers and the linter send a learner to ``NN_notebook「見出し」``; a
renamed heading must not leave them pointing at nothing.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from dblab import settings

POINTER = re.compile(r"(\d\d_[a-z0-9_]+)「([^」]+)」")


def pointers() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((settings.ROOT / "src" / "dblab").rglob("*.py")):
        for notebook, heading in POINTER.findall(path.read_text("utf-8")):
            found.append((path.name, notebook, heading))
    return sorted(set(found))


def headings(notebook: str) -> list[str]:
    path = settings.NOTEBOOKS / f"{notebook}.ipynb"
    cells = nbformat.read(path, as_version=4).cells
    return [
        line[3:].strip()
        for cell in cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]


def test_there_are_pointers() -> None:
    assert len(pointers()) > 10


@pytest.mark.parametrize(("source", "notebook", "heading"), pointers())
def test_pointer_names_an_existing_section(source, notebook, heading) -> None:
    path = settings.NOTEBOOKS / f"{notebook}.ipynb"
    assert path.exists(), f"{source}: {notebook}.ipynb がありません"
    known = headings(notebook)
    assert any(heading in h for h in known), (
        f"{source}: 「{heading}」は {notebook} の見出しにありません: {known}"
    )
