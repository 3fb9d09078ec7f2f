"""Exercise 1 of notebook 08: the keyset batch loop, written by hand.

:func:`batched_backfill` runs the learner's ``fill(engine)`` on freshly
seeded ``users`` with NULL e-mails and watches every transaction. While
the loop runs, the app keeps writing: after the first batch commits,
:data:`LATE_ROWS` new users with NULL e-mails arrive (above every id the
loop could have listed at its start). Judged: every NULL filled (the late
ones too), nothing else changed, no transaction updating more than
:data:`MAX_BATCH` rows, no ``OFFSET`` paging, a pause between batches,
and the loop the learner's own (not ``batching.backfill``).
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

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
"""Seconds: the median pause between two batches must be at least this.

The pause is what the loop asked ``time.sleep`` for between a commit and
the next batch (load on the machine does not change it); a loop that
waits some other way is judged by the gaps measured, against twice this.
"""
LATE_ROWS = 40
"""Users the app writes (e-mail NULL) while the learner's loop runs."""

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


def _statement_kind(statement: str) -> tuple[str, str]:
    """(verb, table) of an UPDATE / SELECT: ``("UPDATE", "users")``."""
    words = statement.split()
    verb = words[0].upper() if words else ""
    if verb == "UPDATE" and len(words) > 1:
        return verb, words[1].strip('"`').lower()
    if verb == "SELECT" and "FROM" in (w.upper() for w in words):
        upper = [w.upper() for w in words]
        table = words[upper.index("FROM") + 1] if "FROM" in upper else ""
        return verb, table.strip('"`(').lower()
    return verb, ""


_PLACEHOLDER = r"(%\(\w+\)s|:\w+|\?|%s|\d+)"
_OFFSET = re.compile(
    rf"\bOFFSET\s+{_PLACEHOLDER}|\bLIMIT\s+{_PLACEHOLDER}\s*,", re.IGNORECASE
)  # MySQL writes LIMIT offset, count
_NAMED = re.compile(r"%\((\w+)\)s|:(\w+)")


def _offset(statement: str, parameters: object) -> int:
    """The OFFSET a statement skips (SQLite renders ``OFFSET 0`` too)."""
    found = _OFFSET.search(statement)
    if not found:
        return 0
    group = 1 if found.group(1) else 2
    token = found.group(group)
    if token.isdigit():
        return int(token)
    named = _NAMED.fullmatch(token)
    if named and isinstance(parameters, dict):
        value = parameters.get(named.group(1) or named.group(2))
    elif isinstance(parameters, (list, tuple)) and token in ("?", "%s"):
        value = parameters[statement[: found.start(group)].count(token)]
    else:
        return 1  # a form not known here: OFFSET given
    return value if isinstance(value, int) else 0


class _Transactions:
    """What the learner's loop sends: rows per transaction, with times.

    After the first transaction that updated ``users`` commits, the next
    one to begin first lets the app write :data:`LATE_ROWS` new users.
    """

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.engine = box.engine
        self.open: dict[int, list[float]] = {}  # id(conn) -> [began, rows]
        self.done: list[tuple[float, float, int]] = []
        self.paging = False  # a statement on users used OFFSET
        self.helper = False  # batching.backfill's progress table was used
        self.late: list[int] = []
        self.lock = threading.Lock()
        self.sleeps: list[tuple[float, float]] = []  # (called at, seconds)

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
        self._sleep, self._thread = time.sleep, threading.get_ident()
        time.sleep = self._sleeping  # the loop's own calls are noted
        return self

    def __exit__(self, *exc_info: object) -> None:
        time.sleep = self._sleep
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "after_cursor_execute", self._execute)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "rollback", self._rollback)
        if self.engine.dialect.name == "sqlite":
            event.remove(self.engine, "connect", _no_sync)
            self.engine.dispose()

    def _sleeping(self, seconds: float) -> None:
        """``time.sleep`` while the loop runs: its own calls are noted."""
        if threading.get_ident() == self._thread:
            self.sleeps.append((time.perf_counter(), seconds))
        self._sleep(seconds)

    def _begin(self, connection) -> None:
        with self.lock:
            self.open[id(connection)] = [time.perf_counter(), 0]
            arrive = bool(self.done) and not self.late
        if arrive:
            self.late = self._app_writes()

    def _app_writes(self) -> list[int]:
        """The app, on its own connection: new users, e-mail unknown."""
        app = sa.create_engine(self.box.url, poolclass=NullPool)
        try:
            with app.connect() as connection:
                top = connection.execute(
                    sa.select(sa.func.max(_USERS.c.id))
                ).scalar_one()
            seed.users(
                app, LATE_ROWS, seed=1, with_null_emails=1.0, progress=False
            )
        finally:
            app.dispose()
        return list(range(top + 1, top + 1 + LATE_ROWS))

    def _execute(self, connection, cursor, statement, *args) -> None:
        if PROGRESS.name in statement:
            self.helper = True
        verb, table = _statement_kind(statement)
        if table != "users":
            return
        if _offset(statement, args[0] if args else None):
            self.paging = True
        if verb != "UPDATE":
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
    """Every NULL e-mail filled by a keyset loop of small, paused batches."""
    if not callable(fill):
        return failed(
            "fill には engine を受け取る関数を渡してください "
            "(pass a function fill(engine))。",
            SECTION_BATCH,
        )
    before = reseed(exercise)
    with _Transactions(exercise) as seen:
        fill(exercise.engine)
    return _judged(seen, before, _emails(exercise.engine))


def _judged(
    seen: _Transactions,
    before: dict[int, str | None],
    after: dict[int, str | None],
) -> Result:
    batches = sorted(seen.done)
    mistake = _mistake(seen, batches)
    if mistake:
        return failed(mistake, SECTION_BATCH)
    nulls = sorted(i for i, email in before.items() if email is None)
    left = [i for i in nulls if after.get(i) is None]
    late = [i for i in seen.late if after.get(i) is None]
    if left or late:
        return failed(_missed(left, late, len(seen.late)), SECTION_BATCH)
    changed = [
        i
        for i, email in before.items()
        if email is not None and after.get(i) != email
    ]
    if changed or len(after) != len(before) + len(seen.late):
        return failed(
            f"もともと email のあった {len(changed)} 行が変わりました "
            "(rows that were not NULL changed)。UPDATE の WHERE で、"
            "email が NULL の行だけに絞ってください。",
            SECTION_BATCH,
        )
    pause = _pause_missing(batches, seen.sleeps)
    if pause:
        return failed(pause, SECTION_BATCH)
    biggest = max(rows for _, _, rows in batches)
    return passed(
        "NULL の email がすべて、鍵で進む小さなバッチと休止で埋まりました。",
        f"{len(nulls)} 行を {len(batches)} バッチで更新 "
        f"(最大 {biggest} 行 / バッチ)",
        f"ループの途中でアプリが書いた {len(seen.late)} 行も埋まりました",
        "もともと email のあった行は変わっていません",
    )


def _mistake(seen: _Transactions, batches: list) -> str | None:
    """The loop's shape: the lesson's mistakes, first one found."""
    if seen.helper:
        return (
            "batching.backfill を呼んでいます (the kit's helper)。この演習は"
            "そのループを自分で書く練習です: `WHERE id > :last ORDER BY id "
            "LIMIT n` で 1 バッチずつ進めてください。"
        )
    if not batches:
        return (
            "users を更新したトランザクションが見えません (no UPDATE seen "
            "through this engine)。渡された engine で更新してください。"
        )
    biggest = max(rows for _, _, rows in batches)
    if biggest > MAX_BATCH:
        return (
            f"1 つのトランザクションで {biggest} 行を更新しました: 一括 "
            f"UPDATE と同じです (one transaction updated {biggest} rows)。"
            "その間、ほかの書き込みは待たされます。1 バッチ "
            f"{MAX_BATCH} 行以下で、バッチごとにコミットしてください。"
        )
    if seen.paging:
        return (
            "OFFSET でページを進めています (OFFSET paging)。OFFSET は毎回"
            "先頭から数え直すので後のバッチほど遅く、埋めた行が条件から外れると"
            "行を飛ばします。前のバッチの最後の id から "
            "`WHERE id > :last ORDER BY id LIMIT n` で進めてください。"
        )
    if len(batches) < 2:
        return (
            "更新が 1 つのトランザクションでした (one batch only)。"
            "1 バッチの行数を小さくして、いくつかのバッチに分けてください。"
        )
    return None


def _missed(left: list[int], late: list[int], arrived: int) -> str:
    if late and not left:
        return (
            f"ループの途中でアプリが書いた {arrived} 行のうち {len(late)} 行"
            f"の email が NULL のままです (rows written during the loop "
            f"were missed, e.g. id={late[0]})。最初に id の一覧や最大値を"
            "決めてしまうと、後から来た行を見落とします。"
            "`WHERE id > :last` のバッチが空になるまで進めてください。"
        )
    where = left or late
    return (
        f"NULL の email が {len(where)} 行残っています (NULLs remain, "
        f"e.g. id={where[0]})。すべての NULL を埋めるまでループを"
        "続けてください。"
    )


def _pause_missing(
    batches: list, sleeps: list[tuple[float, float]]
) -> str | None:
    """The median pause between batches, if it is too short."""
    windows = [
        (ended, began)
        for (_, ended, _), (began, _, _) in zip(
            batches, batches[1:], strict=False
        )
    ]
    if sleeps:  # what the loop asked for, however busy the machine is
        pause = statistics.median(
            sum(seconds for at, seconds in sleeps if ended <= at <= began)
            for ended, began in windows
        )
        enough = MIN_PAUSE
    else:  # it waits some other way: the gaps as measured
        pause = statistics.median(began - ended for ended, began in windows)
        enough = 2 * MIN_PAUSE
    if pause >= enough:
        return None
    return (
        f"バッチとバッチの間がほとんど空いていません (no pause: median "
        f"{pause * 1000:.1f} ms between a commit and the next batch)。"
        "SQLite では、間を空けないと待っている書き込みが入れません。"
        f"コミットしたあと、次のバッチの前に {MIN_PAUSE * 2:g} 秒以上"
        "休んでください (time.sleep)。"
    )
