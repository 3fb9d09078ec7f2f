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

Runs of the same job started together take their batches in turn (each
batch first claims the job's row, so they wait for each other) and
together update every row exactly once; the one that finds nothing left
deletes the row, the others then see it gone and return.

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
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from dblab import settings
from dblab.errors import DblabError

PROGRESS = sa.Table(
    "dblab_batch_progress",
    sa.MetaData(),
    sa.Column("job", sa.String(200), primary_key=True),
    sa.Column("table_name", sa.String(200), nullable=False),
    sa.Column("last_key", sa.String(200)),
    sa.Column("rows_done", sa.BigInteger, nullable=False),
    sa.Column("batches", sa.Integer, nullable=False),
)
"""One row per unfinished job: the last key of its last committed batch."""

START_ATTEMPTS = 20  # registering a job that races a finishing run

RECOMMENDED = {
    "sqlite": (1000, 0.05),
    "postgresql": (1000, 0.01),
    "mysql": (1000, 0.01),
}
"""Batch size and pause per backend: see :func:`recommended`."""


class BatchError(DblabError):
    """A batched update cannot start or cannot get its locks."""


@dataclass(frozen=True)
class Batch:
    """A committed batch, as handed to a ``progress`` callback."""

    number: int
    rows: int
    last_key: object
    total_rows: int


@dataclass(frozen=True)
class BackfillReport:
    """What a backfill did (this run only, plus where it resumed)."""

    job: str
    table: str
    rows: int
    batches: int
    seconds: float
    resumed_from: object = None
    last_key: object = None
    retries: int = 0

    def __str__(self) -> str:
        resumed = ""
        if self.resumed_from is not None:
            resumed = f"、{self.resumed_from!r} の次から再開 (resumed)"
        return (
            f"{self.table}: {self.rows} 行を {self.batches} バッチで更新 "
            f"({self.seconds:.2f} s{resumed}、再試行 {self.retries} 回)"
        )


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
    if batch_size < 1:
        raise BatchError(
            f"batch_size は 1 以上にしてください (batch_size={batch_size})"
        )
    if walk not in WALKS:
        raise BatchError(f"walk は key か offset です (walk={walk!r})")
    started = time.perf_counter()
    target = _table(engine, table)
    if key not in target.c:
        raise BatchError(
            f"{target.name} に列 {key!r} がありません (key column not found)"
        )
    column = target.c[key]
    condition = sa.text(where) if isinstance(where, str) else where
    statement = sa.update(target).values(dict(values))
    job = job or _job_name(engine, target, statement, condition)
    resumed_from = _start(engine, job, target.name, column)
    show = progress if isinstance(progress, bool) else None
    if show is None:
        show = settings.scale() != "test"
    bar = _bar(engine, target, column, condition, resumed_from, show)
    plan = _Plan(
        engine,
        statement,
        column,
        condition,
        job,
        batch_size,
        lock_timeout,
        WALKS[walk],
    )

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
    _drop_if_empty(engine, job)
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


def _walk(
    plan: _Plan,
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
        hi, done, attempts = _run_batch(plan, retries)
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


def pending_jobs(engine: Engine) -> dict[str, object]:
    """Unfinished jobs and the last key each one committed."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(PROGRESS.c.job, PROGRESS.c.last_key)
            )
            return dict(rows.all())
    except DBAPIError as error:
        if _missing_table(error):
            return {}
        raise


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


def _start(engine: Engine, job: str, table: str, column: sa.Column) -> object:
    """Register the job, or find where its committed batches ended.

    Race-free against other runs: the table is created ``IF NOT
    EXISTS``; the job's row is inserted first (a write, so SQLite waits
    for the lock instead of failing), and a duplicate means another run
    registered it: this run joins it. A progress table dropped by a run
    that finished meanwhile, or created by a run at the same moment,
    means: try again (bounded).
    """
    for attempt in range(START_ATTEMPTS):
        try:
            if not sa.inspect(engine).has_table(PROGRESS.name):
                with engine.begin() as connection:
                    connection.execute(
                        sa.schema.CreateTable(PROGRESS, if_not_exists=True)
                    )
            try:
                with engine.begin() as connection:
                    connection.execute(
                        PROGRESS.insert().values(
                            job=job, table_name=table, rows_done=0, batches=0
                        )
                    )
                return None
            except IntegrityError:
                pass  # registered by another run: join it
            with engine.connect() as connection:
                found = connection.execute(
                    sa.select(
                        PROGRESS.c.table_name, PROGRESS.c.last_key
                    ).where(PROGRESS.c.job == job)
                ).first()
            if found is not None:
                break
        except DBAPIError as error:
            if not (_missing_table(error) or _lock_trouble(error)):
                raise
        time.sleep(0.01 * (attempt + 1))
    else:
        raise BatchError(
            f"job {job!r} を開始できませんでした: 進捗表 {PROGRESS.name} が "
            f"ほかの実行と競合し続けました (could not register the job after "
            f"{START_ATTEMPTS} attempts)。もう一度呼んでください。"
        )
    if found.table_name != table:
        raise BatchError(
            f"job {job!r} は表 {found.table_name} の作業です "
            f"(job belongs to another table)"
        )
    if found.last_key is None:
        return None
    return _from_text(found.last_key, column)


def _from_text(value: str, column: sa.Column) -> object:
    try:
        number = issubclass(column.type.python_type, int)
    except NotImplementedError:  # an untyped sa.column(): guess
        number = value.lstrip("-").isdigit()
    return int(value) if number else value


@dataclass(frozen=True)
class _Plan:
    """What every batch of one backfill needs."""

    engine: Engine
    statement: sa.Update
    column: sa.ColumnElement
    condition: sa.ColumnElement[bool] | None
    job: str
    size: int
    lock_timeout: float
    end_key: Callable[[sa.Connection, _Plan, object], object]


FINISHED = object()
"""What a batch returns when the job has no rows left (or another run
of the same job finished it)."""


def _run_batch(plan: _Plan, retries: int) -> tuple[object, int, int]:
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
            if _missing_table(error):  # dropped: every job had finished
                return FINISHED, 0, attempt
            if not _lock_trouble(error):
                raise
            if attempt == retries:
                raise BatchError(
                    f"{plan.job} のバッチがロックを取れませんでした "
                    f"(lock not available after {retries} retries)。"
                    "進捗は保存されています。同じ呼び出しで再開できます。"
                ) from None
            time.sleep(min(2.0, plan.lock_timeout * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _batch(connection: sa.Connection, plan: _Plan) -> tuple[object, int]:
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
    last = None if text is None else _from_text(text, plan.column)
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


def _remaining(plan: _Plan, last) -> list[sa.ColumnElement[bool]]:
    filters = [] if plan.condition is None else [plan.condition]
    if last is not None:
        filters.append(plan.column > last)
    return filters


def _end_by_key(connection: sa.Connection, plan: _Plan, last) -> object:
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


def _end_by_offset(connection: sa.Connection, plan: _Plan, last) -> object:
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


def _missing_table(error: DBAPIError) -> bool:
    """The progress table is not there (dropped by a finished run)."""
    original = error.orig
    if getattr(original, "sqlstate", None) == "42P01":
        return True
    args = getattr(original, "args", ())
    if args and args[0] == 1146:  # MariaDB: table doesn't exist
        return True
    return "no such table" in str(original)


def _lock_trouble(error: DBAPIError) -> bool:
    """A lock timeout, deadlock, busy database or DDL race: retry."""
    original = error.orig
    code = getattr(original, "sqlstate", None)
    if code in ("55P03", "40P01", "40001", "42P07", "23505"):
        return True
    args = getattr(original, "args", ())
    if args and args[0] in (1205, 1213, 1050):  # lock wait, deadlock, exists
        return True
    return "database is locked" in str(original)


def _drop_if_empty(engine: Engine, job: str) -> None:
    """Drop the progress table once no job is left in it.

    The count and the DROP happen under a lock on the table, so a job
    registering at that moment waits, then finds the table gone and
    creates it again (see :func:`_start`) instead of losing its row.
    Another run that dropped it first is not an error.
    """
    forget = PROGRESS.delete().where(PROGRESS.c.job == job)
    count = sa.select(sa.func.count()).select_from(PROGRESS)
    try:
        if engine.dialect.name == "mysql":  # DDL commits: LOCK TABLES
            with engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection:
                connection.exec_driver_sql(
                    f"LOCK TABLES {PROGRESS.name} WRITE"
                )
                try:
                    if not connection.execute(count).scalar_one():
                        PROGRESS.drop(connection)
                finally:
                    connection.exec_driver_sql("UNLOCK TABLES")
            return
        with engine.begin() as connection:
            connection.execute(forget)  # a write first: SQLite waits
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql(
                    f"LOCK TABLE {PROGRESS.name} IN ACCESS EXCLUSIVE MODE"
                )
            if not connection.execute(count).scalar_one():
                PROGRESS.drop(connection)
    except DBAPIError as error:
        if not (_missing_table(error) or _lock_trouble(error)):
            raise


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
