"""Checkers for notebook 08 (the five anti-patterns): the three exercises.

- :func:`batched_backfill` runs the learner's ``fill(engine)`` on freshly
  seeded ``users`` with NULL e-mails, watching every transaction: all NULLs
  filled, nothing else changed, no transaction updating more than
  :data:`MAX_BATCH` rows, and a pause between the batches.
- :func:`safe_revisions` runs the learner's revision texts where DDL
  commits at once (SQLite with its default driver, like MariaDB) on data
  that makes the unique index fail: the failure must leave the database
  exactly at a revision boundary, and the chain must finish once the data
  is fixed, and go down again.
- :func:`backup_restored` looks at the learner's backup, its verification
  and the exercise database after the accident.
"""

from __future__ import annotations

import statistics
import threading
import time
import warnings
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.engine import URL

from dblab import migrate, safety, sandbox, schema, seed, settings
from dblab.batching import PROGRESS
from dblab.checks import Result, checker, failed, not_done, passed
from dblab.checks import write_revision as write_revision  # notebook 08
from dblab.errors import MigrationError
from dblab.sandbox import Sandbox

SECTION_BATCH = "08_anti_patterns「大規模な一括更新」"
SECTION_SAFE = "08_anti_patterns「データの不整合」"
SECTION_BACKUP = "08_anti_patterns「適切なバックアップ計画の欠如」"

NULLABLE = "71cc828891fc"
"""users(id, name, email NULL, age): where the backfill exercise starts."""
HEAD = "36bd30ad7a7f"
"""The app's head: where the revision exercise's chain starts."""
MAX_BATCH = 1000
"""The most rows one transaction of the learner's backfill may update."""
MIN_PAUSE = 0.005
"""Seconds: the median gap between two batches must be at least this."""

TANGLED_REVISION = '''\
"""nickname column and unique user names, in one revision"""

import sqlalchemy as sa
from alembic import op

revision = "c0ffee000001"
down_revision = "36bd30ad7a7f"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("nickname", sa.String(50)))
    op.create_index("ux_users_name", "users", ["name"], unique=True)


def downgrade():
    op.drop_index("ux_users_name", table_name="users")
    op.drop_column("users", "nickname")
'''
"""The exercise's starting point: two changes, the second fails on data."""

DESTRUCTIVE_REVISION = '''\
"""drop users.age (nobody reads it, or so we think)"""

import sqlalchemy as sa
from alembic import op

revision = "dead00000001"
down_revision = "36bd30ad7a7f"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("age")


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("age", sa.Integer(), nullable=True))
'''
"""A revision that throws data away: the backup exercise's accident."""

_USERS = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String(50)),
    sa.column("email", sa.String(120)),
)
_ORIGINAL: dict[str, safety.Fingerprint] = {}
_ACCIDENT: dict[str, safety.Fingerprint] = {}


def backfill_rows() -> int:
    """How many users the backfill exercise seeds (half with NULL)."""
    return settings.scaled(20_000, 3_000)


# -- exercise 1: a batched backfill -----------------------------------------


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


# -- exercise 2: a failing revision made safe -------------------------------


def prepare_revision() -> Sandbox:
    """A SQLite sandbox whose DDL commits at once, with duplicate names.

    The sandbox uses the sqlite3 driver's own transaction handling (like
    MariaDB, a failed revision keeps the DDL that ran before the error);
    ``versions/`` holds the app's revisions plus :data:`TANGLED_REVISION`.
    """
    box = _revision_box("revision_exercise", transactional=False)
    write_revision(box, "c0_nickname_and_unique_name", TANGLED_REVISION)
    return box


def _revision_box(purpose: str, *, transactional: bool) -> Sandbox:
    box = sandbox.create(
        purpose,
        server=URL.create("sqlite"),
        migrations=True,
        transactional_sqlite=transactional,
    )
    migrate.upgrade(box, "head")
    seed.users(box.engine, 600, progress=False)
    return box


def replace_revisions(box: Sandbox, texts: Sequence[str]) -> None:
    """Remove every revision after the app's head; write ``texts`` instead.

    A stub's ``...`` writes nothing.
    """
    if texts is ... or any(text is ... for text in texts):
        return
    _remove_own(box)
    for number, text in enumerate(texts, 1):
        write_revision(box, f"step_{number}", text)


def _remove_own(box: Sandbox) -> None:
    app = {p.name for p in (settings.MIGRATIONS / "versions").glob("*.py")}
    for path in (box.migrations / "versions").glob("*.py"):
        if path.name not in app:
            path.unlink()


def _unique_name(engine: Engine) -> bool:
    inspector = sa.inspect(engine)
    return any(
        i.get("unique") and i["column_names"] == ["name"]
        for i in inspector.get_indexes("users")
    ) or any(
        u["column_names"] == ["name"]
        for u in inspector.get_unique_constraints("users")
    )


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("users")}


def _names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(_USERS.c.name).order_by(_USERS.c.id)
            ).scalars()
        )


def dedupe_names(engine: Engine) -> int:
    """Make user names unique (``name #id`` for repeats); rows changed."""
    with engine.begin() as connection:
        first = set(
            connection.execute(
                sa.select(sa.func.min(_USERS.c.id)).group_by(_USERS.c.name)
            ).scalars()
        )
        rows = connection.execute(
            sa.select(_USERS.c.id, _USERS.c.name).where(
                _USERS.c.id.not_in(first)
            )
        ).all()
        for row in rows:
            connection.execute(
                sa.update(_USERS)
                .where(_USERS.c.id == row.id)
                .values(name=f"{row.name} #{row.id}")
            )
    return len(rows)


@checker(SECTION_SAFE)
def safe_revisions(texts: Sequence[str]) -> Result:
    """Each revision one change: a failure stops at a revision boundary."""
    if isinstance(texts, str):
        texts = [texts]
    if any(text is ... for text in texts):
        return not_done(SECTION_SAFE)
    if not texts or not all(isinstance(text, str) for text in texts):
        return failed(
            "revision の本文 (文字列) のリストを渡してください "
            "(a list of revision texts)。",
            SECTION_SAFE,
        )
    with _revision_box("safe_check", transactional=False) as box:
        replace_revisions(box, texts)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Alembic warns, then fails
                chain = [r.revision for r in migrate.revisions(box)]
                heads = migrate.heads(box)
        except KeyError as error:
            return failed(
                f"down_revision {error.args[0]!r} という revision はありません"
                f" (not connected to the app's head)。最初の revision は "
                f"{HEAD!r}、次からは 1 つ前の revision を指してください。",
                SECTION_SAFE,
            )
        except Exception as error:
            return failed(
                "revision ファイルが読めません (cannot load the revisions): "
                f"{type(error).__name__}: {str(error).splitlines()[0]}",
                SECTION_SAFE,
            )
        if len(heads) != 1:
            return failed(
                f"head が {len(heads)} つあります (heads: "
                f"{', '.join(heads)})。最初の revision の down_revision を "
                f"{HEAD!r}、次からは 1 つ前の revision にしてください。",
                SECTION_SAFE,
            )
        own = chain[chain.index(HEAD) + 1 :] if HEAD in chain else []
        if len(own) != len(texts):
            return failed(
                f"{HEAD!r} からつながっていない revision があります "
                "(not connected to the app's head)。",
                SECTION_SAFE,
            )
        names = _names(box.engine)
        try:
            migrate.upgrade(box, "head")
        except MigrationError as error:
            failure = str(error)
        else:
            return _succeeded_anyway(box, names)
        return _after_failure(box, own, failure)


def _succeeded_anyway(box: Sandbox, names: list[str]) -> Result:
    if not _unique_name(box.engine):
        return failed(
            "upgrade は通りましたが users.name の一意インデックスがありません"
            " (unique index on users.name missing)。変更を削らずに、"
            "失敗しても途中で止まらない形にしてください。",
            SECTION_SAFE,
        )
    if _names(box.engine) != names:
        return failed(
            "revision が users.name のデータを書き換えました (the revision "
            "changed user names)。名前の重複をどう直すかはチームで決める"
            "ことです。この演習では revision の分け方だけを直してください。",
            SECTION_SAFE,
        )
    return failed(
        "重複した名前があるのに一意インデックスが作れました "
        "(unexpected success)。",
        SECTION_SAFE,
    )


def _after_failure(box: Sandbox, own: list[str], failure: str) -> Result:
    now = migrate.current(box)
    stopped = now[0] if now else "base"
    with sandbox.create(
        "safe_reference", server=URL.create("sqlite"), migrations=True
    ) as reference:
        _remove_own(reference)
        for path in (box.migrations / "versions").glob("step_*.py"):
            write_revision(reference, path.name, path.read_text("utf-8"))
        migrate.upgrade(reference, stopped)
        expected = schema.snapshot(reference.engine, count_rows=False)
    found = schema.snapshot(box.engine, count_rows=False)
    residue = schema.diff(expected, found)
    if residue:
        return failed(
            f"upgrade が失敗した後、データベースは revision {stopped} の"
            "はずのスキーマと違います: 失敗した revision の途中までの変更が"
            "残っています (half-applied revision)。1 つの revision に"
            "変更を 1 つだけにしてください。",
            SECTION_SAFE,
            *residue.changes,
            f"失敗: {failure.splitlines()[0][:160]}",
        )
    dedupe_names(box.engine)
    try:
        migrate.upgrade(box, "head")
    except MigrationError as error:
        return failed(
            "名前の重複を直した後の upgrade が失敗しました (upgrade after "
            f"fixing the data failed): {error}",
            SECTION_SAFE,
        )
    if "nickname" not in _columns(box.engine) or not _unique_name(box.engine):
        return failed(
            "最後まで適用しても users.nickname と users.name の一意"
            "インデックスがそろいません (both changes must remain)。",
            SECTION_SAFE,
        )
    try:
        migrate.downgrade(box, HEAD)
    except MigrationError as error:
        return failed(
            f"{HEAD} への downgrade が失敗しました (downgrade failed): "
            f"{error}",
            SECTION_SAFE,
        )
    if "nickname" in _columns(box.engine) or _unique_name(box.engine):
        return failed(
            "downgrade の後も nickname 列か一意インデックスが残っています "
            "(downgrade left changes behind)。",
            SECTION_SAFE,
        )
    return passed(
        "失敗しても revision の境目で止まり、データを直せば続きから"
        "適用でき、downgrade でも戻せます。",
        f"{len(own)} つの revision。重複のため revision {stopped} の"
        "次で止まり、途中までの変更は残りませんでした",
        "重複を直した後の upgrade head、downgrade も成功",
    )


# -- exercise 3: back up, verify and restore --------------------------------


def prepare_backup(server: URL | None = None) -> Sandbox:
    """The app's schema at head with users and addresses."""
    box = sandbox.create("backup_exercise", server=server, migrations=True)
    migrate.upgrade(box, "head")
    seed.app_data(
        box.engine,
        users=settings.scaled(5_000, 300),
        employees=settings.scaled(500, 30),
        progress=False,
    )
    _ORIGINAL[box.name] = safety.fingerprint(box.engine)
    _ACCIDENT.pop(box.name, None)
    return box


def accident(box: Sandbox) -> list[str]:
    """Apply :data:`DESTRUCTIVE_REVISION`; return what the data lost."""
    write_revision(box, "dead00000001_drop_users_age", DESTRUCTIVE_REVISION)
    migrate.upgrade(box, "head")
    migrate.downgrade(box, HEAD)  # the column is back, its data is not
    (box.migrations / "versions" / "dead00000001_drop_users_age.py").unlink()
    after = safety.fingerprint(box.engine)
    _ACCIDENT[box.name] = after
    return _ORIGINAL[box.name].differences(after)


@checker(SECTION_BACKUP)
def backup_restored(
    backup: safety.Backup, verification: safety.Verification, exercise: Sandbox
) -> Result:
    """A backup from before the accident, verified, and restored."""
    original = _ORIGINAL.get(exercise.name)
    if original is None:
        return failed(
            "この演習のデータベースは anti_patterns.prepare_backup() で"
            "作ってください (unknown exercise database)。",
            SECTION_BACKUP,
        )
    if not isinstance(backup, safety.Backup):
        return failed(
            "backup には safety.backup(...) の戻り値を渡してください "
            f"(got {type(backup).__name__})。",
            SECTION_BACKUP,
        )
    backup = safety.Backup.open(backup)
    damaged = _ACCIDENT.get(exercise.name)
    if backup.fingerprint != original:
        if damaged is not None and backup.fingerprint == damaged:
            why = "事故の後に取ったバックアップです (taken after the accident)"
        else:
            why = "演習の最初のデータと一致しません (not the original data)"
        return failed(
            f"{why}。バックアップは変更の前に取ってください。",
            SECTION_BACKUP,
            *original.differences(backup.fingerprint),
        )
    if verification is ... or verification is None:
        return failed(
            "バックアップを確かめていません (no verification)。"
            "safety.verify_backup(...) の結果を渡してください。",
            SECTION_BACKUP,
        )
    if not isinstance(verification, safety.Verification):
        return failed(
            "verification には safety.verify_backup(...) の戻り値を"
            f"渡してください (got {type(verification).__name__})。",
            SECTION_BACKUP,
        )
    if not verification.ok or verification.fingerprint != original:
        return failed(
            "確認 (verify) が、元のデータと同じ指紋を示していません "
            "(verification does not match the original)。",
            SECTION_BACKUP,
            *verification.differences,
        )
    if damaged is None:
        return failed(
            "事故のセル (anti_patterns.accident) がまだ実行されていません "
            "(run the accident first)。",
            SECTION_BACKUP,
        )
    now = safety.fingerprint(exercise.engine)
    lost = original.differences(now)
    if lost:
        return failed(
            "データベースはまだ事故の後のままです (not restored)。"
            "safety.restore_in_place(...) でバックアップから戻してください。",
            SECTION_BACKUP,
            *lost,
        )
    rows = sum(t.rows for t in now.values())
    return passed(
        "事故の前のバックアップを確かめ、そこから元どおりに復元しました。",
        f"{len(now)} 表・{rows} 行の指紋が事故の前と一致",
    )
