"""Where a project keeps its revisions, and how it wants them linted.

- A versions folder is read with its subfolders; only ``*.py`` files that
  assign ``revision`` are revisions (``__init__.py``, notes, ``.txt`` are
  not).
- An ``alembic.ini`` beside the folder (or one or two levels up) may list
  more ``version_locations``; they are read too, so one chain spans them.
- ``env.py`` beside the folder may set ``lock_timeout`` (PostgreSQL) or
  ``lock_wait_timeout`` (MariaDB); then no revision needs its own.
- A ``script.py.mako`` without ``def downgrade`` means the project writes
  no downgrades by policy: MG101 is off.
- ``[tool.dblab.lint]`` in the nearest ``pyproject.toml``: ``disable``
  (codes), ``dialects`` (``postgresql``, ``mysql``, ``sqlite``),
  ``baseline`` (a file of accepted findings, relative to pyproject.toml).
"""

from __future__ import annotations

import ast
import configparser
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from dblab.lint.finding import LintError, shown
from dblab.lint.rules import DIALECT_NAMES, MYSQL, POSTGRESQL, RULES

TIMEOUT_WORDS = {"lock_timeout": POSTGRESQL, "lock_wait_timeout": MYSQL}


@dataclass
class Layout:
    """The folders of one chain and the files around them."""

    folders: list[Path]
    files: list[Path] = field(default_factory=list)
    timeouts: frozenset[str] = frozenset()
    downgrades: bool = True


@dataclass
class Config:
    """``[tool.dblab.lint]`` of the nearest pyproject.toml."""

    disable: frozenset[str] = frozenset()
    dialects: frozenset[str] | None = None
    baseline: Path | None = None
    source: Path | None = None


def layout(folder: Path) -> Layout:
    """The chain's folders starting from one versions folder."""
    folders = [folder]
    for ini in _inis(folder):
        for extra in _version_locations(ini):
            if extra.is_dir() and extra.resolve() not in {
                f.resolve() for f in folders
            }:
                folders.append(extra)
    files: list[Path] = []
    for each in folders:
        files += sorted(
            p
            for p in each.rglob("*.py")
            if p.name != "__init__.py"
            and "__pycache__" not in p.parts
            and p.is_file()
        )
    unique = list(dict.fromkeys(p.resolve() for p in files))
    home = folder.parent
    return Layout(
        folders, unique, _env_timeouts(home / "env.py"), _downgrades(home)
    )


def _inis(folder: Path) -> list[Path]:
    near = [folder.parent, folder.parent.parent, folder.parent.parent.parent]
    return [p / "alembic.ini" for p in near if (p / "alembic.ini").is_file()]


def script_location(ini: Path) -> Path | None:
    """The ``script_location`` folder an ``alembic.ini`` names, if any."""
    if not ini.is_file():
        return None
    parser = _ini(ini)
    value = (
        parser.get("alembic", "script_location", fallback="") if parser else ""
    )
    value = value.replace("%(here)s", str(ini.parent)).strip()
    if not value or "%(" in value or ":" in value.split("/")[0][1:]:
        return None  # empty, or a package resource (``pkg:folder``)
    path = Path(value)
    return path if path.is_absolute() else ini.parent / path


def _ini(ini: Path) -> configparser.ConfigParser | None:
    parser = configparser.ConfigParser(
        defaults={"here": str(ini.parent)}, interpolation=None
    )
    try:
        parser.read(ini, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    return parser


def _version_locations(ini: Path) -> list[Path]:
    """The folders an ``alembic.ini`` lists in ``version_locations``."""
    parser = _ini(ini)
    if parser is None:
        return []
    found = []
    for section in parser.sections():
        value = parser.get(section, "version_locations", fallback="")
        separator = parser.get(section, "version_path_separator", fallback="")
        for part in _split_locations(value, separator):
            part = part.strip().replace("%(here)s", str(ini.parent))
            if part and "%(" not in part:
                path = Path(part)
                found.append(path if path.is_absolute() else ini.parent / path)
    return found


def _split_locations(value: str, separator: str) -> list[str]:
    """Alembic's ``version_path_separator`` (absent: spaces or commas)."""
    named = {"os": os.pathsep, "space": None, "newline": "\n"}
    if separator in named:
        return value.split(named[separator])
    if separator:
        return value.split(separator)
    return value.replace(",", " ").split()


def _env_timeouts(env: Path) -> frozenset[str]:
    """The databases whose lock timeout ``env.py``'s code sets.

    Only code counts: a comment or docstring that mentions
    ``lock_timeout`` sets nothing.
    """
    try:
        tree = ast.parse(env.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return frozenset()
    words = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and _is_docstring(body[0]):
            body[0].value.value = ""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            words.update(w for w in TIMEOUT_WORDS if w in node.value)
        elif isinstance(node, ast.Name | ast.keyword | ast.Attribute):
            name = getattr(node, "id", None) or getattr(node, "arg", None)
            name = name or getattr(node, "attr", None)
            words.update(w for w in TIMEOUT_WORDS if name and w in name)
    return frozenset(TIMEOUT_WORDS[w] for w in words)


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _downgrades(home: Path) -> bool:
    template = home / "script.py.mako"
    try:
        return "def downgrade" in template.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return True


def find_config(start: Path) -> Config:
    """``[tool.dblab.lint]`` of the nearest pyproject.toml above ``start``."""
    here = start.resolve()
    for folder in [here, *here.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return read_config(candidate)
    return Config()


def read_config(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise LintError(
            f"{shown(path)}: 読めません (unreadable pyproject.toml: {error})"
        ) from None
    table = data.get("tool", {}).get("dblab", {}).get("lint", {})
    if not isinstance(table, dict):
        table = {}
    baseline = table.get("baseline")
    return Config(
        frozenset(codes(table.get("disable", []), str(path))),
        dialects(table.get("dialects", table.get("dialect")), str(path)),
        path.parent / baseline if isinstance(baseline, str) else None,
        path,
    )


def codes(value: object, where: str) -> list[str]:
    """Rule codes, each checked against the table."""
    items = [value] if isinstance(value, str) else list(value or [])
    unknown = [c for c in items if c not in RULES]
    if unknown:
        raise LintError(
            f"{where}: 知らないルールです (unknown rule): "
            f"{', '.join(map(str, unknown))}。"
            f" 使えるのは {', '.join(sorted(RULES))}"
        )
    return items


def dialects(value: object, where: str) -> frozenset[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    unknown = [d for d in items if d not in DIALECT_NAMES]
    if unknown:
        raise LintError(
            f"{where}: 知らないデータベースです (unknown dialect): "
            f"{', '.join(map(str, unknown))}。"
            "postgresql, mysql, sqlite のどれかです"
        )
    return frozenset(DIALECT_NAMES[d] for d in items)
