"""The kit teaches SQLAlchemy 2.x only: no legacy API in any file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dblab import settings

LEGACY = {
    r"\bdeclarative_base\s*\(": "DeclarativeBase を継承する",
    r"sqlalchemy\.ext\.declarative": "sqlalchemy.orm.DeclarativeBase",
    r"\.query\(\s*[A-Z]\w*": "select() と session.scalars()",
    r"\bColumn\(\s*(Integer|String|Date)": "mapped_column() と Mapped[]",
    r"sessionmaker\([^)]*autocommit\s*=": "autocommit は 2.0 で廃止",
    r"\bengine\.execute\(": "with engine.connect() as conn: conn.execute()",
}
FOLDERS = ["src", "migrations", "notebooks", "slides", "docs"]
SUFFIXES = {".py", ".ipynb", ".md", ".mako"}
# Files that quote the legacy API on purpose, to show what changed.
ALLOWED = {
    "tests/kit/test_style.py",
    "src/dblab/lint/expressions.py",  # the linter reads legacy revisions too
}


def kit_files() -> list[Path]:
    files = []
    for folder in FOLDERS:
        for path in (settings.ROOT / folder).rglob("*"):
            if (
                path.suffix in SUFFIXES
                and "node_modules" not in path.parts
                and ".ipynb_checkpoints" not in path.parts
            ):
                files.append(path)
    return files


def test_scan_covers_the_kit() -> None:
    names = {p.name for p in kit_files()}
    assert "env.py" in names
    assert "models.py" in names


@pytest.mark.parametrize("pattern", sorted(LEGACY))
def test_no_legacy_api(pattern: str) -> None:
    regex = re.compile(pattern)
    hits = []
    for path in kit_files():
        relative = path.relative_to(settings.ROOT).as_posix()
        if relative in ALLOWED:
            continue
        for number, line in enumerate(
            path.read_text(encoding="utf-8").splitlines(), 1
        ):
            if regex.search(line) and "legacy-ok" not in line:
                hits.append(f"{relative}:{number}: {line.strip()}")
    assert not hits, f"旧 API → {LEGACY[pattern]}:\n" + "\n".join(hits)
