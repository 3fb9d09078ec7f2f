"""Fault tests of dblab.batching on SQLite, PostgreSQL and MariaDB.

Every update is an increment (``counter = counter + 1``), so a row done
twice shows as 2 and a row skipped as 0.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

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


def statements_of(engine: sa.Engine) -> tuple[list, Callable[[], None]]:
    """Every (statement, parameters) ``engine`` sends, and a stop function."""
    sent: list = []

    def record(conn, cursor, statement, parameters, *args):  # noqa: ARG001
        sent.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    return sent, lambda: sa.event.remove(
        engine, "before_cursor_execute", record
    )


GAPPY = [1, 2, 3, 50, 51, 1_000, 1_001, 1_002, 40_000, 2_000_000_000]


def test_batches_walk_the_key_across_gaps_without_offset(
    sandbox: Sandbox,
) -> None:
    """Ids with wide gaps: every batch holds ``batch_size`` matching rows."""
    ITEMS.create(sandbox.engine)
    with sandbox.engine.begin() as connection:
        connection.execute(
            ITEMS.insert(),
            [
                {"id": i, "counter": 0, "tag": "b" if i == 51 else "a"}
                for i in GAPPY
            ],
        )
    seen: list[batching.Batch] = []
    sent, stop_recording = statements_of(sandbox.engine)
    try:
        report = batching.backfill(
            sandbox.engine,
            ITEMS,
            PLUS_ONE,
            where=ITEMS.c.tag == "a",
            batch_size=3,
            progress=seen.append,
        )
    finally:
        stop_recording()
    assert [(b.rows, b.last_key) for b in seen] == [
        (3, 3),
        (3, 1_001),
        (3, 2_000_000_000),
    ]
    assert report.rows == 9
    assert counters(sandbox) == {i: int(i != 51) for i in GAPPY}
    selects = [(s, p) for s, p in sent if "ORDER BY" in s.upper()]
    assert len(selects) == 4  # three batches and the one that found none
    assert all("LIMIT" in s.upper() for s, _ in selects)
    assert skipped_rows(sent) == set()  # SQLite prints OFFSET 0: nothing

    # The former walk, kept for the bench, does skip rows with OFFSET.
    sent, stop_recording = statements_of(sandbox.engine)
    try:
        batching.backfill(
            sandbox.engine, ITEMS, PLUS_ONE, batch_size=3, walk="offset"
        )
    finally:
        stop_recording()
    assert skipped_rows(sent) == {2}


def skipped_rows(sent: list) -> set[int]:
    """The OFFSET values of the statements sent (0 skips nothing)."""
    named = (r"OFFSET\s+%\((\w+)\)s", r"LIMIT\s+%\((\w+)\)s\s*,")  # MariaDB
    found = set()
    for statement, parameters in sent:
        for pattern in named:
            for name in re.findall(pattern, statement, re.I):
                found.add(parameters[name])
        if re.search(r"OFFSET\s+\?", statement, re.I):  # SQLite: comes last
            found.add(parameters[-1])
    return found - {0}


def hold_batches_until_registered(engine: sa.Engine, runs: int):
    """No batch claims the job before ``runs`` starts have registered.

    So the runs really start together (a start after the job finished
    is a new run, by design), however the threads get scheduled. A
    start has registered when its INSERT into the progress table went
    through or met the row of another start (a duplicate key); an
    INSERT merely sent may still be waiting for SQLite's write lock,
    which the other runs' batches can hold until the job is done.
    """
    everyone = threading.Event()
    count = {"registered": 0}
    guard = threading.Lock()

    def one_more() -> None:
        with guard:
            count["registered"] += 1
            if count["registered"] >= runs:
                everyone.set()

    def registering(statement: str | None) -> bool:
        text = (statement or "").lstrip().upper()
        return text.startswith("INSERT INTO DBLAB_BATCH_PROGRESS")

    def inserted(conn, cursor, statement, *args):  # noqa: ARG001
        if registering(statement):
            one_more()

    def duplicate(context) -> None:
        if registering(context.statement) and isinstance(
            context.sqlalchemy_exception, sa.exc.IntegrityError
        ):
            one_more()

    def gate(conn, cursor, statement, *args):  # noqa: ARG001
        text = statement.lstrip().upper()
        if text.startswith("UPDATE DBLAB_BATCH_PROGRESS SET BATCHES"):
            assert everyone.wait(timeout=30), "a start never registered"

    hooks = [
        ("after_cursor_execute", inserted),
        ("handle_error", duplicate),
        ("before_cursor_execute", gate),
    ]
    for name, hook in hooks:
        sa.event.listen(engine, name, hook)

    def release() -> None:
        for name, hook in hooks:
            sa.event.remove(engine, name, hook)

    return release


def test_three_concurrent_starts_of_one_job_update_each_row_once(
    sandbox: Sandbox,
) -> None:
    """Started together, the runs take batches in turn; none crashes."""
    make_items(sandbox)
    start = threading.Barrier(3)
    reports: list[batching.BackfillReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait(timeout=30)
            reports.append(
                batching.backfill(
                    sandbox.engine,
                    ITEMS,
                    PLUS_ONE,
                    batch_size=10,
                    pause=0.02,
                    progress=False,
                )
            )
        except BaseException as error:  # reported below
            errors.append(error)

    release = hold_batches_until_registered(sandbox.engine, 3)
    threads = [threading.Thread(target=run) for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        release()
    assert errors == []
    assert len(reports) == 3
    assert counters(sandbox) == dict.fromkeys(IDS, 1), reports
    assert sum(r.rows for r in reports) == len(IDS)
    assert sum(r.batches for r in reports) == -(-len(IDS) // 10)
    assert len({r.job for r in reports}) == 1
    assert batching.pending_jobs(sandbox.engine) == {}
    tables = sa.inspect(sandbox.engine).get_table_names()
    assert batching.PROGRESS.name not in tables


KILLED_RUN = """
import os, signal, sys
import sqlalchemy as sa
from dblab import batching

engine = sa.create_engine(sys.argv[1])
items = sa.Table("items", sa.MetaData(), autoload_with=engine)
updates = []

@sa.event.listens_for(engine, "after_cursor_execute")
def kill_inside_third_batch(conn, cursor, statement, *args):
    if statement.lstrip().upper().startswith("UPDATE ITEMS"):
        updates.append(statement)
        if len(updates) == 3:  # updated, not committed: kill -9
            os.kill(os.getpid(), signal.SIGKILL)

batching.backfill(
    engine, items, {"counter": items.c.counter + 1}, batch_size=20,
    progress=False,
)
"""


def test_a_killed_run_resumes_after_its_last_committed_batch(
    sandbox: Sandbox,
) -> None:
    make_items(sandbox)
    url = sandbox.url.render_as_string(hide_password=False)
    killed = subprocess.run(  # noqa: S603 (this interpreter, our script)
        [sys.executable, "-c", KILLED_RUN, url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    committed = IDS[39]  # two batches of 20 committed, the third lost
    assert list(batching.pending_jobs(sandbox.engine).values()) == [
        str(committed)
    ]
    assert counters(sandbox) == {i: int(i <= committed) for i in IDS}
    report = batching.backfill(
        sandbox.engine, ITEMS, PLUS_ONE, batch_size=20, progress=False
    )
    assert report.resumed_from == committed
    assert report.rows == len(IDS) - 40
    assert counters(sandbox) == dict.fromkeys(IDS, 1)
