"""The core of every exercise checker.

A checker looks at what the learner produced -- a database, a model
class, a statement count, a revision file -- never at the text of their
code, and answers with a :class:`Result`: ``ok``, one Japanese message,
and the notebook section to re-read. A checker never raises because of a
wrong answer; an unfinished stub gets "まだ解答がありません" instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec

from sqlalchemy.engine import URL

from dblab import progress
from dblab.expecting import ExpectedError, expect_error

if TYPE_CHECKING:
    from dblab.sandbox import Sandbox

__all__ = [
    "ExpectedError",
    "Result",
    "checker",
    "expect_error",  # moved to dblab.expecting; kept for notebooks
    "failed",
    "not_done",
    "passed",
    "revision_source",
    "server_of",
    "write_revision",
]

P = ParamSpec("P")


@dataclass(frozen=True)
class Result:
    """The answer of a checker."""

    ok: bool
    message: str
    section: str | None = None
    details: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        head = "✅ 正解" if self.ok else "❌ 不正解"
        lines = [f"{head}: {self.message}"]
        lines += [f"  - {detail}" for detail in self.details]
        if not self.ok and self.section:
            lines.append(f"  → 読み直す節 (re-read): {self.section}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        head = "✅ **正解**" if self.ok else "❌ **不正解**"
        lines = [f"{head}: {self.message}"]
        lines += [f"- {detail}" for detail in self.details]
        if not self.ok and self.section:
            lines.append(f"\n→ 読み直す節 (re-read): *{self.section}*")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def passed(message: str, *details: str) -> Result:
    """A correct answer."""
    return Result(True, message, None, details)


def failed(message: str, section: str, *details: str) -> Result:
    """A wrong or incomplete answer, with the section that teaches it."""
    return Result(False, message, section, details)


NOT_DONE = (
    "まだ解答がありません (not answered yet)。"
    "セルの ... を書き換えてから、もう一度実行してください。"
)


def not_done(section: str) -> Result:
    """The stub has not been filled in yet."""
    return failed(NOT_DONE, section)


def checker(
    section: str,
) -> Callable[[Callable[P, Result]], Callable[P, Result]]:
    """Make a checker safe to call on anything a learner hands in.

    ``...`` (the stub's placeholder) or ``None`` as the first argument gives
    :func:`not_done`; an exception inside the check becomes a failed
    result naming the error, so a learner never sees a traceback from the
    checker itself. Every answered call is noted by :mod:`dblab.progress`
    (done or tried); a stub left as it is counts as not started.
    """

    def decorate(check: Callable[P, Result]) -> Callable[P, Result]:
        @functools.wraps(check)
        def run(*args: P.args, **kwargs: P.kwargs) -> Result:
            values = list(args) + list(kwargs.values())
            if any(value is ... or value is None for value in values[:1]):
                return not_done(section)
            try:
                result = check(*args, **kwargs)
            except Exception as error:  # the learner's object misbehaved
                first = str(error).strip().splitlines()
                result = failed(
                    "確認中にエラーになりました (the check raised): "
                    f"{type(error).__name__}: {first[0] if first else ''}",
                    section,
                )
            if result.message != NOT_DONE:
                progress.record(section, check.__name__, result.ok)
            return result

        run.section = section  # type: ignore[attr-defined]
        return run

    return decorate


def server_of(box: Sandbox) -> URL:
    """The server a checker makes its trial sandbox on: the learner's."""
    return box.server if box.server is not None else URL.create("sqlite")


def revision_source(
    message: str,
    revision: str,
    down: str | tuple[str, ...],
    upgrade: str,
    downgrade: str,
    *,
    preamble: str = "",
) -> str:
    """The text of a small revision file (bodies indented by 4)."""
    return (
        f'"""{message}\n\nRevision ID: {revision}\n"""\n\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f"revision = {revision!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n"
        f"{preamble}\n\n"
        f"def upgrade():\n    {upgrade}\n\n\n"
        f"def downgrade():\n    {downgrade}\n"
    )


def write_revision(box: Sandbox, name: str, text: str | None) -> Path | None:
    """Write ``text`` as ``<name>.py`` into the sandbox's ``versions/``.

    A stub's ``...`` (or None) writes nothing, so the cell runs unchanged.
    """
    if text is ... or text is None:
        return None
    filename = name if name.endswith(".py") else f"{name}.py"
    path = box.migrations / "versions" / filename
    path.write_text(str(text), encoding="utf-8")
    return path
