"""Checkers of notebook 08: the three exercises, right and wrong.

Wrong answers are the mistakes a learner makes: the one-shot UPDATE,
OFFSET paging, a loop that lists its ids first and misses the rows the
app writes meanwhile, a batch that is too big, batches without a pause,
a loop that also overwrites good rows, the kit's helper instead of a
loop; the tangled revision kept, or "fixed" by dropping
the unique index or by rewriting the data; a backup taken after the
accident (a clean-up revision with an empty downgrade), no
verification, a restore never done.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from dblab import batching, migrate, safety
from dblab.checks import anti_patterns
from dblab.errors import MigrationError

USERS = sa.table(
    "users", sa.column("id", sa.Integer()), sa.column("email", sa.String(120))
)
PLACEHOLDER = {
    "email": "unknown-"
    + sa.cast(USERS.c.id, sa.String(20))
    + "@example.invalid"
}
MISSING = USERS.c.email.is_(None)


def keyset_loop(batch_size: int = 300, pause: float = 0.01, wait=None):
    """The answer: ``WHERE id > :last ORDER BY id LIMIT n``, commit each.

    ``wait(inside)`` replaces the pause: called before each commit
    (``inside=True``) and after it (the default sleeps there).
    """
    if wait is None:

        def wait(inside: bool) -> None:
            if not inside:
                time.sleep(pause)

    def fill(engine):
        last = 0
        while True:
            with engine.begin() as connection:
                ids = (
                    connection.execute(
                        sa.select(USERS.c.id)
                        .where(USERS.c.id > last, MISSING)
                        .order_by(USERS.c.id)
                        .limit(batch_size)
                    )
                    .scalars()
                    .all()
                )
                if not ids:
                    return
                connection.execute(
                    sa.update(USERS)
                    .where(USERS.c.id.between(ids[0], ids[-1]), MISSING)
                    .values(PLACEHOLDER)
                )
                wait(inside=True)
            last = ids[-1]
            wait(inside=False)

    return fill


def one_shot(engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.update(USERS).where(MISSING).values(PLACEHOLDER))


def offset_pages(engine) -> None:
    """Pages by OFFSET over the NULL rows: skips what the last batch filled."""
    offset = 0
    while True:
        with engine.begin() as connection:
            ids = (
                connection.execute(
                    sa.select(USERS.c.id)
                    .where(MISSING)
                    .order_by(USERS.c.id)
                    .limit(300)
                    .offset(offset)
                )
                .scalars()
                .all()
            )
            if not ids:
                return
            connection.execute(
                sa.update(USERS).where(USERS.c.id.in_(ids)).values(PLACEHOLDER)
            )
        offset += 300
        time.sleep(0.01)


def listed_first(engine) -> None:
    """Lists the NULL ids once, then updates them: misses later rows."""
    with engine.connect() as connection:
        ids = connection.execute(sa.select(USERS.c.id).where(MISSING))
        ids = ids.scalars().all()
    for first in range(0, len(ids), 300):
        with engine.begin() as connection:
            connection.execute(
                sa.update(USERS)
                .where(USERS.c.id.in_(ids[first : first + 300]))
                .values(PLACEHOLDER)
            )
        time.sleep(0.01)


def overwrite_all(engine) -> None:
    """Walks the key but forgets ``email IS NULL`` in the UPDATE."""
    last = 0
    while True:
        with engine.begin() as connection:
            ids = connection.execute(
                sa.select(USERS.c.id)
                .where(USERS.c.id > last)
                .order_by(USERS.c.id)
                .limit(300)
            )
            ids = ids.scalars().all()
            if not ids:
                return
            connection.execute(
                sa.update(USERS)
                .where(USERS.c.id.between(ids[0], ids[-1]))
                .values(PLACEHOLDER)
            )
        last = ids[-1]
        time.sleep(0.01)


def kit_helper(engine) -> None:
    batching.backfill(
        engine,
        USERS,
        PLACEHOLDER,
        where=MISSING,
        batch_size=300,
        pause=0.01,
        progress=False,
    )


@pytest.fixture(scope="module")
def backfill_box():
    box = anti_patterns.prepare_backfill()
    yield box
    box.close()


def test_batched_backfill_accepts_the_keyset_loop(backfill_box) -> None:
    result = anti_patterns.batched_backfill(keyset_loop(), backfill_box)
    assert result.ok, result
    assert f"{anti_patterns.LATE_ROWS} 行も埋まりました" in str(result)


@pytest.mark.parametrize(
    ("fill", "says"),
    [
        (one_shot, "一括 UPDATE と同じ"),
        (offset_pages, "OFFSET でページを進めています"),
        (listed_first, "ループの途中でアプリが書いた"),
        (keyset_loop(5_000), "一括 UPDATE と同じ"),
        (keyset_loop(100, 0.0), "休んでください"),
        (overwrite_all, "もともと email のあった"),
        (kit_helper, "batching.backfill を呼んでいます"),
        (lambda engine: None, "トランザクションが見えません"),
        ("fill", "関数を渡して"),
    ],
    ids=["one-shot", "offset", "listed-first", "big-batches", "no-pause",
         "overwrites", "kit-helper", "noop", "str"],
)  # fmt: skip
def test_batched_backfill_rejects(backfill_box, fill, says) -> None:
    result = anti_patterns.batched_backfill(fill, backfill_box)
    assert not result.ok
    assert says in result.message, result
    assert result.section == anti_patterns.SECTION_BATCH
    assert "大規模な一括更新" in str(result)


def test_a_pause_inside_the_transaction_is_no_pause(backfill_box) -> None:
    """Sleeping before the commit keeps the lock: the writers still wait."""

    def wait(inside: bool) -> None:
        if inside:
            time.sleep(0.02)

    result = anti_patterns.batched_backfill(
        keyset_loop(wait=wait), backfill_box
    )
    assert not result.ok
    assert "休んでください" in result.message, result


def test_a_pause_without_time_sleep_is_measured(backfill_box) -> None:
    """Waiting another way (an Event) counts by the gaps measured."""
    idle = threading.Event()

    def wait(inside: bool) -> None:
        if not inside:
            idle.wait(0.02)

    result = anti_patterns.batched_backfill(
        keyset_loop(wait=wait), backfill_box
    )
    assert result.ok, result


def test_no_pause_on_a_busy_machine_is_still_no_pause(backfill_box) -> None:
    """A slow machine stretches the gaps; the loop asked for no pause."""

    def busy(connection) -> None:  # the machine, between two batches
        until = time.perf_counter() + 0.02
        while time.perf_counter() < until:
            pass

    sa.event.listen(backfill_box.engine, "begin", busy)
    try:
        result = anti_patterns.batched_backfill(
            keyset_loop(100, 0.0), backfill_box
        )
    finally:
        sa.event.remove(backfill_box.engine, "begin", busy)
    assert not result.ok
    assert "休んでください" in result.message, result


def test_batched_backfill_stub(backfill_box) -> None:
    result = anti_patterns.batched_backfill(..., backfill_box)
    assert not result.ok and "まだ解答がありません" in result.message


SPLIT_NICKNAME = anti_patterns.TANGLED_REVISION.replace(
    '    op.create_index("ux_users_name", "users", ["name"], unique=True)\n',
    "",
).replace('    op.drop_index("ux_users_name", table_name="users")\n', "")
SPLIT_UNIQUE = (
    anti_patterns.TANGLED_REVISION.replace(
        '    op.add_column("users", sa.Column("nickname", sa.String(50)))\n',
        "",
    )
    .replace('    op.drop_column("users", "nickname")\n', "")
    .replace('revision = "c0ffee000001"', 'revision = "c0ffee000002"')
    .replace(
        'down_revision = "36bd30ad7a7f"', 'down_revision = "c0ffee000001"'
    )
)
DEDUPE_IN_MIGRATION = SPLIT_UNIQUE.replace(
    "def upgrade():\n",
    "def upgrade():\n"
    "    op.execute(\"UPDATE users SET name = name || ' #' || id\")\n",
)
BROKEN_DOWN = SPLIT_UNIQUE.replace(
    '    op.drop_index("ux_users_name", table_name="users")\n',
    '    raise RuntimeError("no way back")\n',
)


def test_safe_revisions_accepts_one_change_per_revision() -> None:
    result = anti_patterns.safe_revisions([SPLIT_NICKNAME, SPLIT_UNIQUE])
    assert result.ok, result


@pytest.mark.parametrize(
    ("texts", "says"),
    [
        ([anti_patterns.TANGLED_REVISION], "途中までの変更が残って"),
        ([SPLIT_NICKNAME], "一意インデックスがありません"),
        ([SPLIT_NICKNAME, DEDUPE_IN_MIGRATION], "データを書き換えました"),
        ([SPLIT_NICKNAME, BROKEN_DOWN], "downgrade が失敗"),
        (
            [SPLIT_NICKNAME, SPLIT_UNIQUE.replace("c0ffee000001", "nowhere")],
            "という revision はありません",
        ),
        (["def upgrade(:\n"], "読めません"),
    ],
    ids=["tangled", "index-dropped", "data-rewritten", "bad-down", "loose",
         "syntax"],
)  # fmt: skip
def test_safe_revisions_rejects(texts, says) -> None:
    result = anti_patterns.safe_revisions(texts)
    assert not result.ok
    assert says in result.message, result
    assert result.section == anti_patterns.SECTION_SAFE


def test_safe_revisions_stub() -> None:
    assert "まだ解答がありません" in anti_patterns.safe_revisions(...).message
    assert (
        "まだ解答がありません" in anti_patterns.safe_revisions([...]).message
    )


def test_prepare_revision_shows_the_half_applied_revision() -> None:
    box = anti_patterns.prepare_revision()
    try:
        with pytest.raises(MigrationError):
            migrate.upgrade(box, "head")
        columns = {
            c["name"] for c in sa.inspect(box.engine).get_columns("users")
        }
        assert "nickname" in columns
        assert migrate.current(box) == (anti_patterns.HEAD,)
    finally:
        box.close()


@pytest.fixture
def backup_box():
    box = anti_patterns.prepare_backup()
    yield box
    box.close()


def test_backup_restored_accepts_backup_verify_restore(backup_box) -> None:
    backup = safety.backup(backup_box, backup_box.folder)
    check = safety.verify_backup(backup, backup_box)
    lost = anti_patterns.accident(backup_box)
    assert [line.split(":")[0] for line in lost] == ["addresses"], lost
    safety.restore_in_place(backup, backup_box)
    result = anti_patterns.backup_restored(backup, check, backup_box)
    assert result.ok, result


def test_backup_restored_rejects_plausible_mistakes(backup_box) -> None:
    before = safety.backup(backup_box, backup_box.folder)
    check = safety.verify_backup(before, backup_box)
    early = anti_patterns.backup_restored(before, check, backup_box)
    assert not early.ok and "事故のセル" in early.message, early
    anti_patterns.accident(backup_box)
    after = safety.backup(backup_box, backup_box.folder)
    cases = [
        (after, check, "事故の後に取った"),
        (before, None, "確かめていません"),
        (before, "ok", "verify_backup"),
        (str(before.path), check, "safety.backup"),
        (before, check, "まだ事故の後のまま"),
    ]
    for backup, verification, says in cases:
        result = anti_patterns.backup_restored(
            backup, verification, backup_box
        )
        assert not result.ok
        assert says in result.message, result
        assert result.section == anti_patterns.SECTION_BACKUP
    stub = anti_patterns.backup_restored(..., ..., backup_box)
    assert "まだ解答がありません" in stub.message
