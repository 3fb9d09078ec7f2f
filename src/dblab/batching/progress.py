"""The progress table of batched updates: register, resume, finish.

One row per unfinished job in ``dblab_batch_progress``; the table is
created when a job starts and dropped when the last job finishes, and
every step here tolerates another run doing the same at that moment.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from dblab.batching.report import BatchError

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


def pending_jobs(engine: Engine) -> dict[str, object]:
    """Unfinished jobs and the last key each one committed."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(PROGRESS.c.job, PROGRESS.c.last_key)
            )
            return dict(rows.all())
    except DBAPIError as error:
        if missing_table(error):
            return {}
        raise


def start(engine: Engine, job: str, table: str, column: sa.Column) -> object:
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
            if not (
                missing_table(error)
                or lock_trouble(error)
                or creation_race(error)
            ):
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
    return from_text(found.last_key, column)


def from_text(value: str, column: sa.Column) -> object:
    try:
        number = issubclass(column.type.python_type, int)
    except NotImplementedError:  # an untyped sa.column(): guess
        number = value.lstrip("-").isdigit()
    return int(value) if number else value


def missing_table(error: DBAPIError) -> bool:
    """The progress table is not there (dropped by a finished run)."""
    original = error.orig
    if PROGRESS.name not in str(original):
        return False  # another table: not ours to explain
    if getattr(original, "sqlstate", None) == "42P01":
        return True
    args = getattr(original, "args", ())
    if args and args[0] == 1146:  # MariaDB: table doesn't exist
        return True
    return "no such table" in str(original)


def lock_trouble(error: DBAPIError) -> bool:
    """A lock timeout, deadlock or busy database: worth a retry."""
    original = error.orig
    code = getattr(original, "sqlstate", None)
    if code in ("55P03", "40P01", "40001"):
        return True
    args = getattr(original, "args", ())
    if args and args[0] in (1205, 1213):  # MariaDB lock wait, deadlock
        return True
    return "database is locked" in str(original)


def creation_race(error: DBAPIError) -> bool:
    """Two runs created the progress table at the same moment.

    PostgreSQL reports it as the table (42P07), its row type (42710,
    "type ... already exists") or pg_type's unique index (23505).
    """
    original = error.orig
    if getattr(original, "sqlstate", None) in ("42P07", "42710", "23505"):
        return PROGRESS.name in str(original) or "pg_type" in str(original)
    args = getattr(original, "args", ())
    return bool(args) and args[0] == 1050  # MariaDB: table exists


def drop_if_empty(engine: Engine, job: str) -> None:
    """Drop the progress table once no job is left in it.

    The count and the DROP happen under a lock on the table, so a job
    registering at that moment waits, then finds the table gone and
    creates it again (see :func:`start`) instead of losing its row.
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
        if not (missing_table(error) or lock_trouble(error)):
            raise
