"""Exercise 1 of notebook 08: a batched backfill.

:func:`batched_backfill` runs the learner's ``fill(engine)`` on freshly
seeded ``users`` with NULL e-mails, watching every transaction: all NULLs
filled, nothing else changed, no transaction updating more than
:data:`MAX_BATCH` rows, and a pause between the batches.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.engine import URL

from dblab import migrate, revisions, sandbox, seed, settings
from dblab.batching import PROGRESS
from dblab.checks import Result, checker, failed, passed
from dblab.sandbox import Sandbox

SECTION_BATCH = "08_anti_patterns「大規模な一括更新」"
NULLABLE = revisions.AGE_ADDED
"""users(id, name, email NULL, age): where the backfill exercise starts."""
MAX_BATCH = 1000
"""The most rows one transaction of the learner's backfill may update."""
MIN_PAUSE = 0.005
"""Seconds: the median gap between two batches must be at least this."""

_USERS = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String(50)),
    sa.column("email", sa.String(120)),
)


def backfill_rows() -> int:
    """How many users the backfill exercise seeds (half with NULL)."""
    return settings.scaled(20_000, 3_000)


# -- the scenario --


def prepare_backfill(server: URL | None = None) -> Sandbox:
    """``users`` at 71cc828891fc, half the e-mails NULL."""
    box = sandbox.create("backfill_exercise", server=server, migrations=True)
    migrate.upgrade(box, NULLABLE)
    reseed(box)
    return box


def reseed(box: Sandbox) -> dict[int, str | None]:
    """Fill ``users`` again (same rows every time); return the e-mails.

    A progress table left by an interrupted backfill is dropped, so the
    next run starts from the first row.
    """
    PROGRESS.drop(box.engine, checkfirst=True)
    with box.engine.begin() as connection:
        connection.execute(sa.delete(_USERS))
    seed.users(
        box.engine, backfill_rows(), with_null_emails=0.5, progress=False
    )
    return _emails(box.engine)


def _emails(engine: Engine) -> dict[int, str | None]:
    with engine.connect() as connection:
        return dict(
            connection.execute(sa.select(_USERS.c.id, _USERS.c.email)).all()
        )


def _no_sync(dbapi_connection, connection_record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=OFF")


class _Transactions:
    """Rows of ``users`` updated per transaction, with begin/commit times."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.open: dict[int, list[float]] = {}  # id(conn) -> [began, rows]
        self.done: list[tuple[float, float, int]] = []
        self.lock = threading.Lock()

    def __enter__(self) -> _Transactions:
        if self.engine.dialect.name == "sqlite":
            # Without fsync a COMMIT is quick, and the gap between two
            # batches is the pause alone (the commit event comes before).
            self.engine.dispose()
            event.listen(self.engine, "connect", _no_sync)
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "after_cursor_execute", self._execute)
        event.listen(self.engine, "commit", self._commit)
        event.listen(self.engine, "rollback", self._rollback)
        return self

    def __exit__(self, *exc_info: object) -> None:
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "after_cursor_execute", self._execute)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "rollback", self._rollback)
        if self.engine.dialect.name == "sqlite":
            event.remove(self.engine, "connect", _no_sync)
            self.engine.dispose()

    def _begin(self, connection) -> None:
        with self.lock:
            self.open[id(connection)] = [time.perf_counter(), 0]

    def _execute(self, connection, cursor, statement, *args) -> None:
        words = statement.split(None, 2)
        if len(words) < 2 or words[0].upper() != "UPDATE":
            return
        if words[1].strip('"`').lower() != "users":
            return
        with self.lock:
            entry = self.open.setdefault(
                id(connection), [time.perf_counter(), 0]
            )
            entry[1] += max(cursor.rowcount, 0)

    def _commit(self, connection) -> None:
        with self.lock:
            entry = self.open.pop(id(connection), None)
            if entry and entry[1]:
                self.done.append((entry[0], time.perf_counter(), entry[1]))

    def _rollback(self, connection) -> None:
        with self.lock:
            self.open.pop(id(connection), None)


# -- the checker --


@checker(SECTION_BATCH)
def batched_backfill(
    fill: Callable[[Engine], object], exercise: Sandbox
) -> Result:
    """All NULL e-mails filled in small transactions with a pause."""
    if not callable(fill):
        return failed(
            "fill には engine を受け取る関数を渡してください "
            "(pass a function fill(engine))。",
            SECTION_BATCH,
        )
    before = reseed(exercise)
    nulls = sorted(i for i, email in before.items() if email is None)
    with _Transactions(exercise.engine) as seen:
        fill(exercise.engine)
    after = _emails(exercise.engine)
    left = [i for i in nulls if after.get(i) is None]
    if left:
        return failed(
            f"NULL の email が {len(left)} 行残っています (NULLs remain, "
            f"e.g. id={left[0]})。すべての NULL を埋めてください。",
            SECTION_BATCH,
        )
    changed = [
        i
        for i, email in before.items()
        if email is not None and after.get(i) != email
    ]
    if changed or len(after) != len(before):
        return failed(
            f"もともと email のあった {len(changed)} 行が変わりました "
            "(rows that were not NULL changed)。where で NULL の行だけに"
            "絞ってください。",
            SECTION_BATCH,
        )
    batches = sorted(seen.done)
    if not batches:
        return failed(
            "users を更新したトランザクションが見えません (no UPDATE seen "
            "through this engine)。渡された engine で更新してください。",
            SECTION_BATCH,
        )
    biggest = max(rows for _, _, rows in batches)
    if biggest > MAX_BATCH:
        return failed(
            f"1 つのトランザクションで {biggest} 行を更新しました "
            f"(one transaction updated {biggest} rows)。その間、ほかの"
            f"書き込みは待たされます。1 バッチ {MAX_BATCH} 行以下に"
            "分けてください (batch_size)。",
            SECTION_BATCH,
        )
    if len(batches) < 2:
        return failed(
            "更新が 1 つのトランザクションでした (one batch only)。"
            "batch_size を小さくして、いくつかのバッチに分けてください。",
            SECTION_BATCH,
        )
    gaps = [
        began - ended
        for (_, ended, _), (began, _, _) in zip(
            batches, batches[1:], strict=False
        )
    ]
    gap = statistics.median(gaps)
    if gap < MIN_PAUSE:
        return failed(
            f"バッチとバッチの間がほとんど空いていません (median gap "
            f"{gap * 1000:.1f} ms)。SQLite では、間を空けないと待っている"
            f"書き込みが入れません。pause を {MIN_PAUSE * 2:g} 秒以上に"
            "してください。",
            SECTION_BATCH,
        )
    return passed(
        "NULL の email がすべて、小さなバッチと休止で埋まりました。",
        f"{len(nulls)} 行を {len(batches)} バッチで更新 "
        f"(最大 {biggest} 行 / バッチ)",
        "もともと email のあった行は変わっていません",
    )
