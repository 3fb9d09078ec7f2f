"""What the linter reports: findings, and files it could not read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dblab import settings
from dblab.errors import DblabError
from dblab.lint.rules import RULES


class LintError(DblabError):
    """The input cannot be linted (not a versions folder, bad syntax...)."""


def shown(path: Path) -> str:
    """``path`` relative to the kit when it is inside it."""
    try:
        return str(path.resolve().relative_to(settings.ROOT))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Finding:
    """One rule broken at one line; ``dialects`` empty = every database."""

    code: str
    path: Path
    line: int
    detail: str = ""
    dialects: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        return RULES[self.code].message

    @property
    def section(self) -> str:
        return RULES[self.code].section

    def sort_key(self) -> tuple[str, int, str]:
        return (str(self.path), self.line, self.code)

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        where = f" [{', '.join(self.dialects)}]" if self.dialects else ""
        return (
            f"{shown(self.path)}:{self.line}: {self.code}{where} "
            f"{self.message}{extra} → {self.section}"
        )


@dataclass
class Report:
    """The findings of a run, and one line per file that could not be read."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def sort(self) -> Report:
        self.findings.sort(key=Finding.sort_key)
        return self
