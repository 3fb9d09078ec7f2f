"""What is checked after a change, shared by the guarded upgrade and deploy.

- :func:`integrity_problems`: SQLite's ``integrity_check`` and
  ``foreign_key_check`` (the servers keep their own invariants);
- :func:`run_check`: a caller's check on the engine, which fails by
  raising, returning False or returning a non-empty message.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from dblab.steps import one_line

Check = Callable[[Engine], object]


def integrity_problems(engine: Engine) -> list[str]:
    """SQLite's own checks, one line per problem (empty elsewhere)."""
    if engine.dialect.name != "sqlite":
        return []
    with engine.connect() as connection:
        verdict = connection.exec_driver_sql("PRAGMA integrity_check").scalar()
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if verdict != "ok" or broken:
        return [
            f"SQLite の検査で問題が見つかりました (integrity: {verdict}, "
            f"foreign key violations: {len(broken)})"
        ]
    return []


def run_check(check: Check, engine: Engine) -> str | None:
    """None when ``check`` passes, else why it did not (one line)."""
    try:
        verdict = check(engine)
    except Exception as error:
        return one_line(error)
    if verdict is False:
        return "False"
    if isinstance(verdict, str) and verdict:
        return verdict
    return None
