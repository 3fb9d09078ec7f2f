"""One batch of a batched update, and how its end key is found."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from dblab.batching.progress import (
    PROGRESS,
    from_text,
    lock_trouble,
    missing_table,
)
from dblab.batching.report import BatchError


@dataclass(frozen=True)
class Plan:
    """What every batch of one backfill needs."""

    engine: Engine
    statement: sa.Update
    column: sa.ColumnElement
    condition: sa.ColumnElement[bool] | None
    job: str
    size: int
    lock_timeout: float
    end_key: Callable[[sa.Connection, Plan, object], object]


FINISHED = object()
"""What a batch returns when the job has no rows left (or another run
of the same job finished it)."""


def run_batch(plan: Plan, retries: int) -> tuple[object, int, int]:
    """Claim the job's row, update the next range, move the job on.

    One transaction, whose first statement is a write (the claim): on
    SQLite the batch then waits for the write lock like any writer, and
    on every database two runs of one job take their batches in turn.
    Returns the range's last key (:data:`FINISHED` when nothing is left:
    the batch that finds so deletes the job's row), the rows updated,
    and how many attempts were retried.
    """
    for attempt in range(retries + 1):
        try:
            with plan.engine.connect() as connection:
                hi, done = _batch(connection, plan)
                connection.commit()
            return hi, done, attempt
        except DBAPIError as error:
            if missing_table(error):  # dropped: every job had finished
                return FINISHED, 0, attempt
            if not lock_trouble(error):
                raise
            if attempt == retries:
                raise BatchError(
                    f"{plan.job} のバッチがロックを取れませんでした "
                    f"(lock not available after {retries} retries)。"
                    "進捗は保存されています。同じ呼び出しで再開できます。"
                ) from None
            time.sleep(min(2.0, plan.lock_timeout * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _batch(connection: sa.Connection, plan: Plan) -> tuple[object, int]:
    """One batch inside ``connection``'s transaction (not committed)."""
    mine = PROGRESS.c.job == plan.job
    if connection.dialect.name == "postgresql":
        wait = f"{max(1, round(plan.lock_timeout * 1000))}ms"
        connection.execute(
            sa.select(sa.func.set_config("lock_timeout", wait, True))
        )
    claim = PROGRESS.update().where(mine)
    claim = claim.values(batches=PROGRESS.c.batches + 1)
    if connection.execute(claim).rowcount != 1:
        return FINISHED, 0  # another run of this job finished it
    text = connection.execute(
        sa.select(PROGRESS.c.last_key).where(mine)
    ).scalar()
    last = None if text is None else from_text(text, plan.column)
    hi = plan.end_key(connection, plan, last)
    if hi is None:
        connection.execute(PROGRESS.delete().where(mine))
        return FINISHED, 0
    filters = [plan.column <= hi]
    if last is not None:
        filters.append(plan.column > last)
    if plan.condition is not None:
        filters.append(plan.condition)
    done = connection.execute(plan.statement.where(*filters)).rowcount
    connection.execute(
        PROGRESS.update()
        .where(mine)
        .values(last_key=str(hi), rows_done=PROGRESS.c.rows_done + done)
    )
    return hi, done


def _remaining(plan: Plan, last) -> list[sa.ColumnElement[bool]]:
    filters = [] if plan.condition is None else [plan.condition]
    if last is not None:
        filters.append(plan.column > last)
    return filters


def _end_by_key(connection: sa.Connection, plan: Plan, last) -> object:
    """The last key of the next ``size`` matching rows after ``last``.

    ``SELECT max(k) FROM (SELECT key ... WHERE key > :last ORDER BY key
    LIMIT :size)``: an index range from ``last`` on, whatever the batch
    number (no OFFSET, which re-reads the rows it skips).
    """
    window = (
        sa.select(plan.column.label("k"))
        .where(*_remaining(plan, last))
        .order_by(plan.column)
        .limit(plan.size)
        .subquery()
    )
    return connection.execute(sa.select(sa.func.max(window.c.k))).scalar()


def _end_by_offset(connection: sa.Connection, plan: Plan, last) -> object:
    """The kit's former walk (``OFFSET size - 1``), kept for the bench."""
    filters = _remaining(plan, last)
    nth = (
        sa.select(plan.column)
        .where(*filters)
        .order_by(plan.column)
        .offset(plan.size - 1)
        .limit(1)
    )
    hi = connection.execute(nth).scalar()
    if hi is None:
        hi = connection.execute(
            sa.select(sa.func.max(plan.column)).where(*filters)
        ).scalar()
    return hi


WALKS = {"key": _end_by_key, "offset": _end_by_offset}
