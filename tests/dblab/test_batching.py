"""Fault tests of dblab.batching on SQLite, PostgreSQL and MariaDB.

Every update is an increment (``counter = counter + 1``), so a row done
twice shows as 2 and a row skipped as 0.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from dblab import batching
from dblab import sandbox as sandboxes
from dblab.batching import BatchError
from dblab.sandbox import Sandbox

ITEMS = sa.Table(
    "items",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("counter", sa.Integer, nullable=False),
    sa.Column("tag", sa.String(10), nullable=False),
)
IDS = [i * 3 + i % 2 for i in range(1, 131)]  # sparse keys, 130 rows
PLUS_ONE = {"counter": ITEMS.c.counter + 1}


class Stop(Exception):
    """Raised by a progress callback to interrupt a run."""


def stop(batch: batching.Batch) -> None:
    raise Stop


def make_items(box: Sandbox) -> None:
    ITEMS.create(box.engine)
    with box.engine.begin() as connection:
        connection.execute(
            ITEMS.insert(),
            [
                {"id": i, "counter": 0, "tag": "a" if n % 3 else "b"}
                for n, i in enumerate(IDS)
            ],
        )


def counters(box: Sandbox) -> dict[int, int]:
    with box.engine.connect() as connection:
        return dict(
            connection.execute(sa.select(ITEMS.c.id, ITEMS.c.counter)).all()
        )


def test_interrupted_backfill_resumes_without_doing_a_row_twice(
    sandbox: Sandbox,
) -> None:
    """Stopped between batches, then inside one: each row once in the end."""
    make_items(sandbox)
    seen: list[batching.Batch] = []

    def stop_after_three(batch: batching.Batch) -> None:
        seen.append(batch)
        if batch.number == 3:
            raise Stop

    with pytest.raises(Stop):
        batching.backfill(
            sandbox.engine,
            ITEMS,
            PLUS_ONE,
            batch_size=20,
            progress=stop_after_three,
        )
    assert [b.rows for b in seen] == [20, 20, 20]
    stopped_at = seen[-1].last_key
    assert stopped_at == IDS[59]
    (job,) = batching.pending_jobs(sandbox.engine).items()
    assert job[1] == str(stopped_at)
    assert counters(sandbox) == {i: int(i <= stopped_at) for i in IDS}

    # Second run: its second batch fails after the UPDATE, before COMMIT.
    updates = []

    def fail_second_update(conn, cursor, statement, *args):  # noqa: ARG001
        if statement.lstrip().upper().startswith("UPDATE ITEMS"):
            updates.append(statement)
            if len(updates) == 2:
                raise Stop

    sa.event.listen(sandbox.engine, "after_cursor_execute", fail_second_update)
    try:
        with pytest.raises(Stop):
            batching.backfill(
                sandbox.engine, ITEMS, PLUS_ONE, batch_size=20, progress=False
            )
    finally:
        sa.event.remove(
            sandbox.engine, "after_cursor_execute", fail_second_update
        )
    committed = IDS[79]  # one more batch of 20 got through
    assert batching.pending_jobs(sandbox.engine) == {job[0]: str(committed)}
    assert counters(sandbox) == {i: int(i <= committed) for i in IDS}

    report = batching.backfill(
        sandbox.engine, ITEMS, PLUS_ONE, batch_size=20, progress=False
    )
    assert report.resumed_from == committed
    assert report.rows == len(IDS) - 80
    assert counters(sandbox) == dict.fromkeys(IDS, 1)
    assert batching.pending_jobs(sandbox.engine) == {}

    # A finished job is forgotten: calling again is a new, whole run.
    again = batching.backfill(
        sandbox.engine, ITEMS, PLUS_ONE, batch_size=200, progress=False
    )
    assert (again.rows, again.batches, again.resumed_from) == (130, 1, None)
    assert set(counters(sandbox).values()) == {2}

    # ``where`` as SQL text limits the rows; batches count matching rows.
    tagged_a = {i for n, i in enumerate(IDS) if n % 3}
    report = batching.backfill(
        sandbox.engine,
        "items",
        {"counter": sa.text("counter + 1")},
        where="tag = 'a'",
        batch_size=25,
        progress=False,
    )
    assert report.rows == len(tagged_a)
    assert report.batches == -(-len(tagged_a) // 25)
    assert report.last_key == max(tagged_a)
    assert counters(sandbox) == {i: 2 + (i in tagged_a) for i in IDS}
    tables = sa.inspect(sandbox.engine).get_table_names()
    assert "dblab_batch_progress" not in tables


@pytest.fixture
def sqlite_box() -> Iterator[Sandbox]:
    box = sandboxes.create("batching", server=sa.URL.create("sqlite"))
    yield box
    box.close()


def test_bad_arguments_are_explained(sqlite_box: Sandbox) -> None:
    sandbox = sqlite_box
    make_items(sandbox)
    with pytest.raises(BatchError, match="テーブル nope がありません"):
        batching.backfill(sandbox.engine, "nope", PLUS_ONE)
    with pytest.raises(BatchError, match="key column"):
        batching.backfill(sandbox.engine, ITEMS, PLUS_ONE, key="uuid")
    with pytest.raises(BatchError, match="batch_size"):
        batching.backfill(sandbox.engine, ITEMS, PLUS_ONE, batch_size=0)
    with pytest.raises(Stop):
        batching.backfill(
            sandbox.engine,
            ITEMS,
            PLUS_ONE,
            job="shared",
            batch_size=10,
            progress=stop,
        )
    other = sa.Table(
        "others", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True)
    )
    other.create(sandbox.engine)
    with pytest.raises(BatchError, match="another table"):
        batching.backfill(
            sandbox.engine, other, {"id": other.c.id}, job="shared"
        )


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.server)]
)
def test_postgresql_batch_gives_up_a_lock_quickly_then_retries(
    sandbox: Sandbox,
) -> None:
    """A batch behind a long transaction times out, retries, then resumes."""
    make_items(sandbox)
    blocker = sandbox.engine.connect()
    blocker.begin()
    blocker.execute(  # holds a row lock in the second batch's range
        sa.update(ITEMS).where(ITEMS.c.id == IDS[15]).values(tag="x")
    )
    try:
        with pytest.raises(BatchError, match="lock not available"):
            batching.backfill(
                sandbox.engine,
                ITEMS,
                PLUS_ONE,
                batch_size=10,
                lock_timeout=0.02,
                retries=2,
                progress=False,
            )
        assert counters(sandbox) == {i: int(i <= IDS[9]) for i in IDS}
        release = threading.Timer(0.3, blocker.rollback)
        release.start()
        report = batching.backfill(
            sandbox.engine,
            ITEMS,
            PLUS_ONE,
            batch_size=10,
            lock_timeout=0.02,
            retries=50,
            progress=False,
        )
        release.join()
    finally:
        blocker.close()
    assert report.retries >= 1
    assert report.resumed_from == IDS[9]
    assert counters(sandbox) == dict.fromkeys(IDS, 1)
