"""Fault tests of dblab.safety on SQLite, PostgreSQL and MariaDB.

Backups are proven by restoring them; the guarded upgrade is proven by a
revision that fails half-way (on MariaDB its DDL has already committed),
by corrupt and stale backups, and by a process killed mid-upgrade.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from dblab import migrate, safety, seed
from dblab import sandbox as sandboxes
from dblab.safety import BackupError, GuardError, backups, guard, tools
from dblab.safety import fingerprints as fingerprints_module
from dblab.sandbox import Sandbox

HALF_WAY = """
op.create_table("leftover", sa.Column("id", sa.Integer, primary_key=True))
op.execute("UPDATE users SET age = 99")
op.add_column("addresses", sa.Column("note", sa.String(20)))
raise RuntimeError("boom half-way")
"""
"""DDL, data, DDL, error: on MariaDB the second DDL commits the UPDATE."""
GOOD = 'op.add_column("addresses", sa.Column("note", sa.String(20)))'
SQLITE = sa.URL.create("sqlite")


def seeded(box: Sandbox, users: int = 40) -> tuple[str, ...]:
    """The app schema at head with users, employees and addresses."""
    revision = migrate.upgrade(box, "head")
    seed.app_data(box.engine, users=users, employees=5, addresses_per_user=2)
    return revision


def tables(box: Sandbox) -> set[str]:
    return set(sa.inspect(box.engine).get_table_names())


def columns(box: Sandbox, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(box.engine).get_columns(table)}


def test_fingerprint_ignores_row_order_and_sees_one_change(
    sqlite_box: Sandbox,
) -> None:
    """A table without a key is scanned in insertion order on SQLite."""
    notes = sa.table("notes", sa.column("body"), sa.column("n"))
    rows = [{"body": f"メモ {i}", "n": i % 7} for i in range(50)]
    with sqlite_box.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE notes (body TEXT, n INT)"))
        connection.execute(notes.insert(), rows)
    before = safety.fingerprint(sqlite_box)
    assert before["notes"].rows == 50
    with sqlite_box.engine.begin() as connection:
        connection.execute(sa.delete(notes))
        connection.execute(notes.insert(), rows[::-1])
        first = connection.execute(sa.select(notes.c.body)).scalars().first()
    assert first == "メモ 49"  # the scan order did change
    assert safety.fingerprint(sqlite_box) == before

    with sqlite_box.engine.begin() as connection:
        connection.execute(notes.insert(), rows[:1])
    twice = safety.fingerprint(sqlite_box)
    assert twice["notes"].rows == 51
    with sqlite_box.engine.begin() as connection:
        connection.execute(
            sa.delete(notes).where(notes.c.body == "メモ 0", notes.c.n == 0)
        )
        connection.execute(notes.insert(), [{"body": "メモ 0", "n": 1}])
    after = safety.fingerprint(sqlite_box)
    assert after["notes"].rows == 50
    assert before.differences(after) == [
        "notes: 内容が違う (checksum differs)"
    ]


def test_canonical_values_do_not_depend_on_the_driver() -> None:
    import datetime as dt
    from decimal import Decimal

    canonical = fingerprints_module.canonical
    assert canonical(Decimal("1.50")) == canonical(1.5)
    assert canonical(Decimal("2.000")) == canonical(2) == canonical(2.0)
    assert canonical(True) == canonical(1)
    assert canonical(None) != canonical("") != canonical(0)
    assert canonical("1") != canonical(1)
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert canonical(dt.datetime(2024, 4, 1, 9, tzinfo=tokyo)) == canonical(
        dt.datetime(2024, 4, 1, 0)
    )
    assert canonical(memoryview(b"\x00\xff")) == canonical(b"\x00\xff")


def test_passwords_go_to_the_environment_not_argv() -> None:
    for url in (
        "postgresql+psycopg://alice:s3cret@db.example:5433/app",
        "mysql+pymysql://alice:s3cret@db.example:3307/app",
    ):
        args, env = tools.client_options(sa.make_url(url))
        assert not any("s3cret" in arg for arg in args)
        assert "s3cret" in (env.get("PGPASSWORD"), env.get("MYSQL_PWD"))
        assert any("db.example" in arg for arg in args)


def test_backup_restores_into_a_new_database(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded(sandbox)
    before = safety.fingerprint(sandbox)
    calls: list[list[str]] = []
    run = subprocess.run

    def recording(argv, *args, **kwargs):
        calls.append([str(part) for part in argv])
        return run(argv, *args, **kwargs)

    monkeypatch.setattr(tools.subprocess, "run", recording)
    source: Sandbox | sa.Engine = sandbox
    if sandbox.backend == "postgresql":  # trust auth ignores the password
        dummy = "pw-in-env-9"  # noqa: S105 (not a secret)
        source = sa.create_engine(sandbox.url.set(password=dummy))
    item = safety.backup(source, tmp_path)
    manifest = json.loads(item.manifest.read_text(encoding="utf-8"))
    assert manifest["backend"] == sandbox.backend
    assert manifest["database"] == sandbox.name
    assert manifest["fingerprint"] == before.to_json()
    assert manifest["size"] == item.path.stat().st_size
    assert not any("pw-in-env-9" in part for argv in calls for part in argv)
    if sandbox.backend != "sqlite":
        assert any(
            Path(argv[0]).name in tools.TOOLS[sandbox.backend]
            for argv in calls
        )

    if isinstance(source, sa.Engine):
        source.dispose()
    copy = safety.restore(item, sandbox)
    try:
        assert copy.name != sandbox.name
        assert safety.fingerprint(copy) == before
    finally:
        copy.close()
    assert safety.fingerprint(sandbox) == before
    # verify_backup (a scratch restore) runs in every guarded upgrade below.

    # The same rows on SQLite give the same fingerprint as on this backend.
    with sandboxes.create("twin", migrations=True, server=SQLITE) as twin:
        seeded(twin)
        assert safety.fingerprint(twin) == before


def corrupted(item: safety.Backup, how: str) -> Path:
    """A copy of the dump, damaged ``how``, beside a copy of the manifest."""
    data = item.path.read_bytes()
    if how == "corrupt":
        middle = len(data) // 2
        data = (
            data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
        )
    elif how == "truncated":
        data = data[: len(data) // 2]
    path = item.path.with_name(f"{how}-{item.path.name}")
    path.write_bytes(data)
    if how != "no manifest":
        manifest = item.manifest.read_text(encoding="utf-8")
        safety.manifest_path(path).write_text(manifest, encoding="utf-8")
    return path


def test_corrupt_or_truncated_backup_or_missing_tool_is_refused(
    add_revision,
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeded(sandbox)
    item = safety.backup(sandbox, tmp_path)
    add_revision(sandbox, GOOD, "0badf00d0002")
    before = safety.fingerprint(sandbox)
    for how, reason in (
        ("corrupt", "壊れています"),
        ("truncated", "途中で切れています"),
        ("no manifest", "manifest"),
    ):
        bad = corrupted(item, how)
        with pytest.raises(BackupError, match=reason):
            safety.restore(bad, sandbox)
        with pytest.raises(GuardError, match=reason) as caught:
            safety.guarded_upgrade(
                sandbox, backup_dir=tmp_path, use_backup=bad
            )
        assert len(str(caught.value).splitlines()) == 1
        assert "変更していません" in str(caught.value)
    if sandbox.backend != "sqlite":  # a missing dump tool stops it too
        dump, _ = tools.TOOLS[sandbox.backend]
        with pytest.raises(GuardError, match="実行できません"):
            safety.guarded_upgrade(
                sandbox, backup_dir=tmp_path, tools={dump: tmp_path / "no"}
            )
        monkeypatch.setenv("PATH", str(tmp_path))
        with pytest.raises(GuardError, match="apt-get install") as caught:
            safety.guarded_upgrade(sandbox, backup_dir=tmp_path)
        assert len(str(caught.value).splitlines()) == 1
    assert "note" not in columns(sandbox, "addresses")
    assert safety.fingerprint(sandbox) == before


def test_failing_revision_is_undone_by_the_guarded_upgrade(
    add_revision, sandbox: Sandbox, tmp_path: Path
) -> None:
    (head,) = seeded(sandbox)
    add_revision(sandbox, HALF_WAY, "0badf00d0001")
    before = safety.fingerprint(sandbox)

    report = safety.guarded_upgrade(
        sandbox, to="head", backup_dir=tmp_path, restore=True
    )

    assert not report.ok and report.restored
    assert report.discarded is not None  # counted before the restore
    if sandbox.backend != "mysql":  # only MariaDB kept half a revision
        assert not report.discarded
    assert "boom half-way" in report.error
    status = {step.key: step.status for step in report.steps}
    assert status == {
        "preflight": "ok",
        "fingerprint": "ok",
        "backup": "ok",
        "verify": "ok",
        "upgrade": "failed",
        "check": "skipped",
        "restore": "ok",
    }
    assert safety.fingerprint(sandbox) == before
    assert "leftover" not in tables(sandbox)
    assert "note" not in columns(sandbox, "addresses")
    assert migrate.current(sandbox) == (head,)
    with sandbox.engine.connect() as connection:  # the engine still works
        ages = connection.execute(sa.text("SELECT DISTINCT age FROM users"))
        assert 99 not in set(ages.scalars())
    text = str(report)
    assert "適用 (upgrade)" in text and "復元 (restore)" in text
    assert "失敗、復元済み" in text
    with pytest.raises(GuardError, match="boom half-way"):
        report.raise_for_failure()


def test_failing_revision_is_reported_not_restored_by_default(
    add_revision, sandbox: Sandbox, tmp_path: Path
) -> None:
    """No restore unless asked: the report says what is true instead."""
    (head,) = seeded(sandbox)
    add_revision(sandbox, HALF_WAY, "0badf00d0001")
    before = safety.fingerprint(sandbox)
    report = safety.guarded_upgrade(sandbox, to="head", backup_dir=tmp_path)
    assert not report.ok and not report.restored
    assert report.steps[-1].key == "restore"
    assert report.steps[-1].status == "skipped"
    assert report.revision_after == migrate.current(sandbox) == (head,)
    assert "restore_in_place" in report.outcome
    if sandbox.backend == "mysql":  # DDL committed, and the UPDATE with it
        assert "leftover" in tables(sandbox)
        assert report.discarded and "users" in report.discarded
    else:  # transactional DDL: the revision rolled itself back
        assert safety.fingerprint(sandbox) == before
        assert report.discarded is not None and not report.discarded
    assert report.backup is not None and report.backup.path.exists()


@pytest.fixture
def sqlite_box() -> Iterator[Sandbox]:
    """A SQLite sandbox, for the tests whose logic is backend-neutral."""
    box = sandboxes.create("guard", migrations=True, server=SQLITE)
    yield box
    box.close()


def test_guarded_upgrade_applies_a_good_revision(
    add_revision, sqlite_box: Sandbox, tmp_path: Path
) -> None:
    seeded(sqlite_box)
    add_revision(sqlite_box, GOOD, "0badf00d0002")
    seen = []
    report = safety.guarded_upgrade(
        sqlite_box, backup_dir=tmp_path, check=seen.append
    )
    assert report.ok, str(report)
    assert migrate.current(sqlite_box) == ("0badf00d0002",)
    assert "note" in columns(sqlite_box, "addresses")
    assert seen == [sqlite_box.engine]
    assert report.backup is not None and report.backup.path.exists()
    assert "成功" in str(report)


def test_failing_check_restores_the_database(
    add_revision, sqlite_box: Sandbox, tmp_path: Path
) -> None:
    (head,) = seeded(sqlite_box)
    add_revision(sqlite_box, GOOD, "0badf00d0002")
    before = safety.fingerprint(sqlite_box)
    report = safety.guarded_upgrade(
        sqlite_box,
        backup_dir=tmp_path,
        check=lambda engine: "行数が違う",
        restore=True,
    )
    assert report.restored and not report.ok
    assert "行数が違う" in report.error
    assert migrate.current(sqlite_box) == (head,)
    assert "note" not in columns(sqlite_box, "addresses")
    assert safety.fingerprint(sqlite_box) == before


def test_unwritable_backup_folder_stops_before_any_change(
    add_revision, sqlite_box: Sandbox, tmp_path: Path
) -> None:
    (head,) = seeded(sqlite_box, users=5)
    add_revision(sqlite_box, GOOD, "0badf00d0002")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(GuardError, match="書き込めません") as caught:
        safety.guarded_upgrade(sqlite_box, backup_dir=blocker / "backups")
    assert len(str(caught.value).splitlines()) == 1
    assert caught.value.report.steps[0].status == "failed"
    assert migrate.current(sqlite_box) == (head,)


def test_stale_backup_is_refused(
    add_revision, sqlite_box: Sandbox, tmp_path: Path
) -> None:
    (head,) = seeded(sqlite_box, users=5)
    item = safety.backup(sqlite_box, tmp_path)
    with sqlite_box.engine.begin() as connection:
        connection.execute(sa.text("UPDATE users SET age = 1 WHERE id = 1"))
    add_revision(sqlite_box, GOOD, "0badf00d0002")
    with pytest.raises(GuardError, match="stale"):
        safety.guarded_upgrade(
            sqlite_box, backup_dir=tmp_path, use_backup=item
        )
    assert migrate.current(sqlite_box) == (head,)


def test_backup_that_restores_differently_is_refused(
    add_revision, sqlite_box: Sandbox, tmp_path: Path
) -> None:
    """A dump whose content was changed and whose sha256 was rewritten."""
    (head,) = seeded(sqlite_box, users=5)
    item = safety.backup(sqlite_box, tmp_path)
    with sqlite3.connect(item.path) as forged:
        forged.execute("DELETE FROM addresses WHERE id = 1")
    forged.close()
    manifest = json.loads(item.manifest.read_text(encoding="utf-8"))
    manifest["size"], manifest["sha256"] = backups.file_digest(item.path)
    item.manifest.write_text(json.dumps(manifest), encoding="utf-8")
    add_revision(sqlite_box, GOOD, "0badf00d0002")
    with pytest.raises(GuardError, match="一致しません") as caught:
        safety.guarded_upgrade(
            sqlite_box, backup_dir=tmp_path, use_backup=item.path
        )
    assert "addresses" in str(caught.value)
    assert caught.value.report.steps[-1].key == "verify"
    assert migrate.current(sqlite_box) == (head,)


def test_mismatch_after_restore_is_never_success(
    add_revision, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restore that gives back other data raises; it is not a report."""
    with sandboxes.create(
        "plain",
        migrations=True,
        server=SQLITE,
        transactional_sqlite=False,  # the failed DDL stays behind
    ) as box:
        seeded(box, users=5)
        add_revision(box, HALF_WAY, "0badf00d0001")
        monkeypatch.setattr(
            guard,
            "restore_in_place",
            lambda item, db, **_: safety.fingerprint(db),
        )
        with pytest.raises(GuardError, match="一致しません") as caught:
            safety.guarded_upgrade(box, backup_dir=tmp_path, restore=True)
        report = caught.value.report
        assert not report.ok and not report.restored
        assert report.steps[-1].key == "restore"
        assert report.steps[-1].status == "failed"


SLEEPS_HALF_WAY = """
import os, pathlib, time
op.execute("PRAGMA cache_size = 2")  # spill changed pages into the file
op.execute("UPDATE users SET age = 7, name = name || ' (killed)'")
op.create_table("leftover", sa.Column("id", sa.Integer))
pathlib.Path(os.environ["DBLAB_TEST_MARKER"]).touch()
time.sleep(60)
"""
KILLED_UPGRADE = """
import sys
from pathlib import Path
from alembic import command
from app.database import make_engine
from dblab import migrate
config = migrate.config(script_location=Path(sys.argv[2]))
config.attributes["connection"] = make_engine(sys.argv[1])
command.upgrade(config, "head")
"""


def test_sigkill_mid_upgrade_leaves_sqlite_at_the_previous_revision(
    add_revision, sqlite_box: Sandbox, tmp_path: Path
) -> None:
    (head,) = seeded(sqlite_box, users=300)
    before = safety.fingerprint(sqlite_box)
    marker = tmp_path / "half-way"
    add_revision(sqlite_box, SLEEPS_HALF_WAY, "0badf00d0003")
    sqlite_box.engine.dispose()
    process = subprocess.Popen(  # noqa: S603 (our own script)
        [
            sys.executable,
            "-c",
            KILLED_UPGRADE,
            sqlite_box.url.render_as_string(),
            str(sqlite_box.migrations),
        ],
        stderr=subprocess.PIPE,
        env={**os.environ, "DBLAB_TEST_MARKER": str(marker)},
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "upgrade never got half-way"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    journal = Path(sqlite_box.url.database + "-journal")
    assert journal.exists() and journal.stat().st_size > 0  # a hot journal

    with sqlite3.connect(sqlite_box.url.database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [
            ("ok",)
        ]
    connection.close()
    assert migrate.current(sqlite_box) == (head,)
    assert "leftover" not in tables(sqlite_box)
    assert safety.fingerprint(sqlite_box) == before
