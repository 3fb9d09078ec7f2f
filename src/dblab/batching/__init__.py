"""Batched backfill / update: small transactions, a pause, and a resume.

:func:`backfill` updates a table in keyed ranges, ``(last, hi]`` in key
order, one transaction per batch, and sleeps ``pause`` seconds between
batches so other writers get the database in between. Each batch moves
its job's row in ``dblab_batch_progress`` in the same transaction, so a
run that is interrupted (an exception, Ctrl-C, a killed process) resumes
where it stopped when called again: no row is updated twice or skipped.
The row is deleted when the job finishes (and the table when it is
empty), so calling again later starts a new run.

Each batch's end is found by key, never by OFFSET: the largest key of
``SELECT key ... WHERE key > :last ORDER BY key LIMIT :batch_size``, an
index range that costs the same for the first batch and the last.

On PostgreSQL a table loaded a moment ago has no statistics yet; the
planner may then read ``WHERE email IS NULL`` through an index on
``email`` for every batch, several times slower at 1M rows (``dblab
bench``). Run ``ANALYZE`` on it first, as autovacuum soon would.

:func:`recommended` gives the batch size and pause measured to keep a
concurrent writer's worst wait under 200 ms at 1M rows: on SQLite 1,000
rows and a 50 ms pause; on PostgreSQL 5,000 rows and on MariaDB 2,000,
both with a 10 ms pause.

Runs of the same job started together take their batches in turn (each
batch first claims the job's row, so they wait for each other) and
together update every row exactly once; the one that finds nothing left
deletes the row, the others then see it gone and return. A run counts
as started when its row is registered: one whose registration lands
after the job finished (on SQLite a start can wait for the write lock
while the other runs' batches keep taking it) is a new run, so give an
update that is not idempotent a ``where`` that skips the rows it did.

On SQLite only the pause helps other writers: batches back to back
retake the lock before a waiting writer's busy handler wakes up (it
sleeps in steps of up to 100 ms). On PostgreSQL each batch sets
``lock_timeout``: a batch that meets a lock waits briefly, rolls back
and retries, instead of queueing behind a long transaction (and making
everyone behind it wait too).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping

import sqlalchemy as sa
from sqlalchemy import Engine

from dblab import settings
from dblab.batching import progress as progress_table
from dblab.batching.progress import PROGRESS, pending_jobs
from dblab.batching.report import BackfillReport, Batch, BatchError
from dblab.batching.walk import FINISHED, WALKS, Plan, run_batch

__all__ = [
    "PROGRESS",
    "RECOMMENDED",
    "BackfillReport",
    "Batch",
    "BatchError",
    "backfill",
    "pending_jobs",
    "recommended",
]

RECOMMENDED = {
    "sqlite": (1000, 0.05),
    "postgresql": (5000, 0.01),
    "mysql": (2000, 0.01),
}
"""Batch size and pause per backend: see :func:`recommended`."""


def backfill(
    engine: Engine,
    table: str | sa.TableClause,
    values: Mapping[str | sa.Column, object],
    *,
    where: str | sa.ColumnElement[bool] | None = None,
    key: str = "id",
    batch_size: int = 1000,
    pause: float = 0.0,
    job: str | None = None,
    progress: bool | Callable[[Batch], object] | None = None,
    lock_timeout: float = 0.5,
    retries: int = 5,
    walk: str = "key",
) -> BackfillReport:
    """``UPDATE table SET values WHERE where`` in batches of ``batch_size``.

    ``table`` is a name (reflected) or a ``Table`` / ``sa.table()``.

    ``values`` maps columns to values or SQL expressions
    (``{"counter": sa.text("counter + 1")}``); ``where`` is an SQL
    expression or a string of SQL. ``key`` must be unique and ordered
    (the primary key). ``job`` names the run for resuming (default: a
    name derived from the table, values and where). ``progress``: None
    shows a tqdm bar except under ``DBLAB_SCALE=test``, True/False force
    it, a callable is called after every committed batch (and may raise
    to stop the run). ``lock_timeout`` (seconds, PostgreSQL) bounds each
    batch's wait for a lock; a batch that times out is retried up to
    ``retries`` times. ``walk="offset"`` finds each batch's end the way
    the kit once did (``OFFSET``); it is there only so ``dblab bench``
    can show the difference in one run.
    """
    started = time.perf_counter()
    plan = _plan(
        engine, table, values, where, key, batch_size, job, walk, lock_timeout
    )
    target, column, condition, job = (
        plan.statement.table,
        plan.column,
        plan.condition,
        plan.job,
    )
    resumed_from = progress_table.start(engine, job, target.name, column)
    show = progress if isinstance(progress, bool) else None
    if show is None:
        show = settings.scale() != "test"
    bar = _bar(engine, target, column, condition, resumed_from, show)

    def notify(batch: Batch) -> None:
        bar.update(batch.rows)
        if callable(progress):
            progress(batch)

    try:
        last, rows, batches, retried = _walk(
            plan, resumed_from, pause, retries, notify
        )
    finally:
        bar.close()
    progress_table.drop_if_empty(engine, job)
    return BackfillReport(
        job=job,
        table=target.name,
        rows=rows,
        batches=batches,
        seconds=time.perf_counter() - started,
        resumed_from=resumed_from,
        last_key=last,
        retries=retried,
    )


def _plan(
    engine, table, values, where, key, batch_size, job, walk, lock_timeout
) -> Plan:
    """Check the arguments; the statement, key and job every batch uses."""
    if batch_size < 1:
        raise BatchError(
            f"batch_size は 1 以上にしてください (batch_size={batch_size})"
        )
    if walk not in WALKS:
        raise BatchError(f"walk は key か offset です (walk={walk!r})")
    target = _table(engine, table)
    if key not in target.c:
        raise BatchError(
            f"{target.name} に列 {key!r} がありません (key column not found)"
        )
    condition = sa.text(where) if isinstance(where, str) else where
    statement = sa.update(target).values(dict(values))
    job = job or _job_name(engine, target, statement, condition)
    return Plan(
        engine,
        statement,
        target.c[key],
        condition,
        job,
        batch_size,
        lock_timeout,
        WALKS[walk],
    )


def _walk(
    plan: Plan,
    last: object,
    pause: float,
    retries: int,
    callback: Callable[[Batch], object],
) -> tuple[object, int, int, int]:
    """Batches until the job is finished: last key, rows, batches, retries."""
    rows, batches, retried = 0, 0, 0
    while True:
        if batches and pause > 0:
            time.sleep(pause)
        hi, done, attempts = run_batch(plan, retries)
        retried += attempts
        if hi is FINISHED:
            return last, rows, batches, retried
        last, rows, batches = hi, rows + done, batches + 1
        callback(Batch(batches, done, hi, rows))


def recommended(backend: str) -> tuple[int, float]:
    """The batch size and pause (seconds) measured to keep writers going.

    ``dblab bench`` measured these at 1M rows with a concurrent writer
    (README「性能」): on SQLite a batch must be short and the pause long
    enough for a waiting writer's busy handler to wake up inside it.
    """
    return RECOMMENDED.get(backend, RECOMMENDED["postgresql"])


def _table(engine: Engine, table: str | sa.TableClause) -> sa.TableClause:
    if isinstance(table, sa.TableClause):
        return table
    try:
        return sa.Table(table, sa.MetaData(), autoload_with=engine)
    except sa.exc.NoSuchTableError:
        raise BatchError(
            f"テーブル {table} がありません (table not found)"
        ) from None


def _job_name(engine, target, statement, condition) -> str:
    """A stable name for the same update of the same table."""
    if condition is not None:
        statement = statement.where(condition)
    compiled = statement.compile(dialect=engine.dialect)
    text = f"{compiled}|{sorted(compiled.params.items(), key=str)!r}"
    digest = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
    return f"{target.name}:{digest[:12]}"


def _bar(engine, target, column, condition, last, show: bool):
    from tqdm import tqdm

    total = None
    if show:
        filters = [] if condition is None else [condition]
        if last is not None:
            filters.append(column > last)
        count = sa.select(sa.func.count()).select_from(target).where(*filters)
        with engine.connect() as connection:
            total = connection.execute(count).scalar_one()
    return tqdm(
        total=total,
        desc=target.name,
        unit="rows",
        unit_scale=True,
        disable=not show,
        leave=False,
    )
