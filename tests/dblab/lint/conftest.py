"""A versions folder to write fixture revisions into, the way real
projects write them (header, ``upgrade()``, ``downgrade()``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dblab import lint

HEADER = '''"""{message}"""
import sqlalchemy as sa
from alembic import op
{imports}
revision = "{rev}"
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = None
{top}
'''
UNDO = "op.drop_column('users', 'x')"


class Versions:
    """A versions folder in a tmp path; each ``add`` writes one revision."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def add(
        self,
        rev: str,
        upgrade: str,
        *,
        down: str | tuple | None = None,
        downgrade: str | None = UNDO,
        head: str = "",
        top: str = "",
        imports: str = "",
        labels: str | tuple | None = None,
        name: str | None = None,
        folder: Path | None = None,
    ) -> Path:
        text = head + HEADER.format(
            message=f"fixture {rev}",
            imports=imports,
            rev=rev,
            down=down,
            labels=labels,
            top=textwrap.dedent(top),
        )
        text += "\n\ndef upgrade():\n" + _indented(upgrade)
        if downgrade is not None:
            text += "\n\ndef downgrade():\n" + _indented(downgrade)
        path = (folder or self.folder) / f"{name or rev}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def findings(self, path: Path | None = None, **options) -> list:
        return lint.lint(path or self.folder, **options)

    def codes(self, path: Path | None = None, **options) -> list[str]:
        return sorted(f.code for f in self.findings(path, **options))


def _indented(body: str) -> str:
    return textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n"


@pytest.fixture
def versions(tmp_path) -> Versions:
    return Versions(tmp_path / "versions")
