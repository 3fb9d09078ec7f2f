"""Lock facts of an index build, seen from a second connection.

PostgreSQL: a plain ``CREATE INDEX`` holds SHARE on the table until its
transaction ends, so an INSERT from another session waits;
``CREATE INDEX CONCURRENTLY`` holds SHARE UPDATE EXCLUSIVE, which
writers do not conflict with. A failed concurrent build leaves an
INVALID index behind (``pg_index.indisvalid``). MariaDB: InnoDB builds a
secondary index in place, and accepts ``ALGORITHM=INPLACE, LOCK=NONE``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

WRITES = {
    "users": "INSERT INTO users (name, email) VALUES ('writer', :email)",
    "addresses": "INSERT INTO addresses (email_address, user_id)"
    " SELECT :email, MIN(id) FROM users",
}
"""A concurrent writer's statement per table; always rolled back."""

MODES_SQL = (
    "SELECT mode, granted FROM pg_locks"
    " WHERE pid = :pid AND relation = CAST(:table AS regclass)"
)
INVALID_SQL = (
    "SELECT c.relname FROM pg_index i"
    " JOIN pg_class c ON c.oid = i.indexrelid"
    " WHERE i.indrelid = CAST(:table AS regclass) AND NOT i.indisvalid"
    " ORDER BY c.relname"
)
WAITING_SQL = (
    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    " AND datname = current_database() AND pid <> :holder"
)


@dataclass(frozen=True)
class LockFact:
    """What a second connection saw while an index was being built."""

    statement: str
    modes: tuple[str, ...]  # lock modes the builder held on the table
    write_waits: bool  # an INSERT from a third connection had to wait

    @property
    def blocks_writes(self) -> bool:
        return "ShareLock" in self.modes or self.write_waits


def lock_modes(engine: Engine, pid: int, table: str) -> tuple[str, ...]:
    """The modes ``pid`` holds or waits for on ``table``, sorted."""
    with engine.connect() as watcher:
        rows = watcher.execute(
            sa.text(MODES_SQL), {"pid": pid, "table": table}
        ).all()
    return tuple(sorted(mode for mode, _granted in rows))


def write_waits(engine: Engine, table: str = "users") -> bool:
    """Whether an INSERT into ``table`` waits (gives up after 200 ms)."""
    with engine.connect() as writer:
        if engine.dialect.name == "postgresql":
            writer.exec_driver_sql("SET lock_timeout = '200ms'")
        try:
            writer.execute(
                sa.text(WRITES[table]),
                {"email": f"writer.{time.monotonic_ns()}@example.com"},
            )
        except sa.exc.OperationalError as error:
            if "lock timeout" not in str(error):
                raise
            return True
        finally:
            writer.rollback()
    return False


def plain_build(engine: Engine, create: str, table: str) -> LockFact:
    """Run ``create`` in an open transaction; look; roll it back."""
    with engine.connect() as builder:
        pid = builder.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        builder.exec_driver_sql(create)
        fact = LockFact(
            create, lock_modes(engine, pid, table), write_waits(engine, table)
        )
        builder.rollback()
    return fact


def _waiting_pid(engine: Engine, holder: int) -> int | None:
    """A session of this database waiting for a lock (not ``holder``)."""
    with engine.connect() as watcher:
        query = sa.text(WAITING_SQL)
        return watcher.execute(query, {"holder": holder}).scalar()


def while_a_writer_is_open(
    engine: Engine,
    build: Callable[[], object],
    table: str = "users",
    *,
    timeout: float = 20.0,
) -> LockFact:
    """Run ``build`` while another transaction has an INSERT open.

    A concurrent build waits for that transaction (and a plain one waits
    for its SHARE lock); while it waits, a second connection reads the
    builder's locks and a third tries to write. Then the open
    transaction rolls back and ``build`` finishes.
    """
    errors: list[BaseException] = []
    with engine.connect() as holder:
        holder.execute(sa.text(WRITES[table]), {"email": "holder@example.com"})
        mine = holder.exec_driver_sql("SELECT pg_backend_pid()").scalar()

        def run() -> None:
            try:
                build()
            except BaseException as error:  # reported below
                errors.append(error)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        pid = None
        while pid is None and thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
            pid = _waiting_pid(engine, mine)
        modes = lock_modes(engine, pid, table) if pid else ()
        waits = write_waits(engine, table) if pid else False
        holder.rollback()
        thread.join(timeout)
    if errors:
        raise errors[0]
    return LockFact("", modes, waits)


def concurrent_build(engine: Engine, create: str, table: str) -> LockFact:
    """``create`` (CONCURRENTLY, autocommit) while a writer is open."""

    fact = while_a_writer_is_open(
        engine, lambda: autocommit(engine, create), table
    )
    return LockFact(create, fact.modes, fact.write_waits)


def invalid_indexes(engine: Engine, table: str) -> list[str]:
    """Indexes of ``table`` that PostgreSQL marks INVALID."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text(INVALID_SQL), {"table": table}
            ).scalars()
        )


def autocommit(engine: Engine, sql: str) -> None:
    """One statement outside any transaction (CONCURRENTLY needs it)."""
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql(sql)
