"""The bench's concurrent writer measures a stall it is made to meet."""

from __future__ import annotations

import sqlite3
import threading
import time

import sqlalchemy as sa

from dblab import migrate, revisions, seed
from dblab import sandbox as sandboxes
from dblab.bench import timing
from dblab.bench.writer import writing

HOLD = 0.4  # seconds the blocker keeps users locked


def block_users(box: sandboxes.Sandbox, hold: float) -> None:
    """Lock the whole users table for ``hold`` seconds, then release."""
    if box.backend == "sqlite":
        raw = sqlite3.connect(box.url.database, isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")
        time.sleep(hold)
        raw.execute("ROLLBACK")
        raw.close()
        return
    with box.engine.connect() as connection:
        if box.backend == "postgresql":
            connection.exec_driver_sql("LOCK TABLE users IN EXCLUSIVE MODE")
        else:
            connection.exec_driver_sql("LOCK TABLES users WRITE")
        time.sleep(hold)
        if box.backend == "mysql":
            connection.exec_driver_sql("UNLOCK TABLES")
        connection.rollback()


def test_writer_records_the_stall_of_a_lock_held_against_it(
    server: sa.URL,
) -> None:
    box = sandboxes.create("bench_writer", server=server)
    try:
        migrate.upgrade(box, revisions.HEAD)
        seed.users(box.engine, 200, progress=False)
        with writing(box, 200, seed=1) as writer:
            time.sleep(0.1)
            calm = len(writer.samples)
            blocker = threading.Thread(target=block_users, args=(box, HOLD))
            began = time.perf_counter()
            blocker.start()
            blocker.join()
            ended = time.perf_counter()
            time.sleep(0.1)
        stalls = writer.stalls(began, ended)
        before = writer.stalls(0.0, began - 0.01)
    finally:
        box.close()
    assert calm >= 2  # it wrote before the lock
    assert max(stalls) >= HOLD * 0.75  # and waited while it was held
    assert len(writer.samples) > calm + 1  # and wrote again after
    assert max(before, default=0.0) < HOLD * 0.75
    assert timing.percentile(stalls, 100) == max(stalls)


def test_percentile_and_best_of() -> None:
    values = [0.1 * n for n in range(1, 101)]
    assert timing.percentile(values, 99) == values[98]
    assert timing.percentile(values, 50) == values[49]
    assert timing.percentile([], 99) == 0.0
    assert timing.best_of([1.0]) == ""
    assert timing.best_of([2.0, 1.5]) == "best of 2 (2.000, 1.500 s)"
