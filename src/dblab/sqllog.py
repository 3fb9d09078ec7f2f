"""Capture and count the SQL statements a block of code sends.

>>> with sqllog.capture(engine) as log:
...     session.scalars(select(User)).all()
>>> log.count()
1

Only what reaches the driver is recorded, in order, with its parameters.
Transaction control (BEGIN / COMMIT / ROLLBACK) is left out, so counts
are the same on every backend; the text is whitespace-normalized, so the
output is stable under nbval.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, event

TRANSACTION = re.compile(
    r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.I
)


@dataclass(frozen=True)
class Statement:
    """One statement as the driver received it."""

    sql: str
    parameters: object
    many: bool

    @property
    def kind(self) -> str:
        """The first keyword: SELECT, INSERT, UPDATE, ..."""
        return self.sql.split(None, 1)[0].upper() if self.sql else ""


class SQLLog:
    """The statements captured by :func:`capture`."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []

    def _record(self, conn, cursor, statement, parameters, context, many):  # noqa: ARG002
        if TRANSACTION.match(statement):
            return
        sql = " ".join(statement.split())
        self.statements.append(Statement(sql, parameters, bool(many)))

    def count(self, kind: str | None = None) -> int:
        """How many statements (of one ``kind``, e.g. ``"SELECT"``)."""
        if kind is None:
            return len(self.statements)
        return sum(1 for s in self.statements if s.kind == kind.upper())

    def kinds(self) -> Counter[str]:
        """Statements counted by kind."""
        return Counter(s.kind for s in self.statements)

    def __len__(self) -> int:
        return len(self.statements)

    def lines(self, parameters: bool = True, limit: int = 20) -> list[str]:
        """Numbered statements, as shown in a notebook."""
        out = []
        for number, stmt in enumerate(self.statements[:limit], 1):
            line = f"{number:>3}. {stmt.sql}"
            if parameters and stmt.parameters:
                shown = _short(stmt.parameters)
                line += f"  -- {'executemany ' if stmt.many else ''}{shown}"
            out.append(line)
        if len(self.statements) > limit:
            out.append(f"... ほか {len(self.statements) - limit} 件")
        return out

    def __str__(self) -> str:
        summary = ", ".join(
            f"{k} {n}" for k, n in sorted(self.kinds().items())
        )
        head = f"SQL {len(self)} 文 ({summary or 'なし'})"
        return "\n".join([head, *self.lines()])

    def __repr__(self) -> str:
        return str(self)


def _short(parameters: object, width: int = 80) -> str:
    text = repr(parameters)
    return text if len(text) <= width else text[: width - 3] + "..."


@contextmanager
def capture(engine: Engine) -> Iterator[SQLLog]:
    """Record every statement ``engine`` sends inside the block."""
    log = SQLLog()
    event.listen(engine, "before_cursor_execute", log._record)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", log._record)
