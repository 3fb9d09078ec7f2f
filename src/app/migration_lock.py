"""The migration lock that ``migrations/env.py`` holds around a run.

Alembic takes no lock of its own: two ``alembic upgrade`` runs started
together race, and on MariaDB (implicit commits) a revision that begins
with DML can run twice. ``migration_lock`` is held for the whole run --
for the session, not one transaction, because revisions commit one by
one: a PostgreSQL advisory lock, a MariaDB ``GET_LOCK`` whose name
includes the database (lock names are server-wide and classrooms share
servers), on SQLite a file lock beside the database file (``filelock``,
which also works on Windows). The second runner waits at most ``wait``
seconds, then reads the revision anew and finds nothing to do -- or says
in one line that another migration holds the lock.
"""

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic.util import CommandError
from filelock import FileLock, Timeout
from sqlalchemy import Connection, text

from app.database import SQLITE_BEGIN


def lock_name(connection: Connection) -> str:
    """``dblab_migrate:<database>``, at most 64 characters (MariaDB)."""
    name = f"dblab_migrate:{connection.engine.url.database}"
    if len(name) > 64:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        name = f"{name[:47]}:{digest}"
    return name


def held_elsewhere(connection: Connection, waited: float) -> CommandError:
    database = connection.engine.url.database
    return CommandError(
        f"別のマイグレーションがデータベース {database} のロックを持っています"
        f" ({waited:g} 秒待ちました)。終わってからもう一度実行してください "
        "(another migration holds the lock)"
    )


@contextmanager
def migration_lock(connection: Connection, wait: float) -> Iterator[None]:
    """Hold the database's migration lock for the whole run.

    Wait for it at most ``wait`` seconds, then raise ``CommandError``.
    """
    dialect = connection.dialect.name
    # Alembic decides at configure time whether it runs inside the
    # caller's transaction (then it does not commit revision by revision):
    # the transaction the lock query begins must not look like one.
    outer = connection.in_transaction()
    if dialect == "sqlite":
        database = connection.engine.url.database
        if not database or database == ":memory:":
            yield  # nobody else can see an in-memory database
            return
        lock = FileLock(str(Path(database).resolve()) + ".migration-lock")
        try:
            lock.acquire(timeout=wait)
        except Timeout:
            raise held_elsewhere(connection, wait) from None
        try:
            yield
        finally:
            lock.release()
        return
    if dialect == "postgresql":
        key = int.from_bytes(
            hashlib.sha256(b"dblab_migrate").digest()[:8], "big", signed=True
        )
        take = text("SELECT pg_try_advisory_lock(:key)").bindparams(key=key)
        release = text("SELECT pg_advisory_unlock(:key)").bindparams(key=key)
        deadline = time.monotonic() + wait
        while not connection.execute(take).scalar():
            if time.monotonic() >= deadline:
                connection.rollback()
                raise held_elsewhere(connection, wait)
            time.sleep(0.1)
    elif dialect in ("mysql", "mariadb"):
        name = lock_name(connection)
        got = connection.execute(
            text("SELECT GET_LOCK(:name, :wait)"),
            {"name": name, "wait": wait},
        ).scalar()
        if got != 1:
            connection.rollback()
            raise held_elsewhere(connection, wait)
        release = text("SELECT RELEASE_LOCK(:name)").bindparams(name=name)
    else:
        yield  # no lock known for this database
        return
    if not outer and connection.in_transaction():
        connection.rollback()  # a session-level lock outlives it
    try:
        yield
    finally:
        try:
            if connection.in_transaction():
                connection.rollback()
            connection.execute(release)
            connection.rollback()
        except Exception:
            # A session that cannot unlock is closed, which unlocks.
            connection.invalidate()


@contextmanager
def write_lock_at_begin(connection: Connection) -> Iterator[None]:
    """On SQLite, each revision's transaction takes the write lock first.

    With the driver recipe every transaction begins as a reader (BEGIN
    DEFERRED); a revision that reads before it writes (batch mode
    reflects first) cannot wait for a concurrent writer -- SQLite answers
    "database is locked" at once rather than risk a deadlock. BEGIN
    IMMEDIATE takes the write lock up front, waiting as long as the
    driver's busy timeout. Without the recipe (the driver's own
    transactions, notebook 08) nothing reads the setting: nothing changes.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    # A setting of this connection, read by the recipe's begin listener:
    # adding a listener to the engine here would change the listener list
    # that other threads' connections are iterating.
    info = connection.info
    before = info.get(SQLITE_BEGIN)
    info[SQLITE_BEGIN] = "BEGIN IMMEDIATE"
    try:
        yield
    finally:
        if before is None:
            info.pop(SQLITE_BEGIN, None)
        else:
            info[SQLITE_BEGIN] = before
