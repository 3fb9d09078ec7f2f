"""Restores over the original: never drop first, count what they discard.

The adversaries: a dump that passes its manifest but fails to load (the
original must stay as it was, and the message must be the tool's own),
and writes made after the backup (a restore discards them: counted per
table by primary key before anyone restores). The database has a view
and a trigger, with a literal ``%`` each: MariaDB's swap moves tables
and must create both anew (a table with triggers cannot move to another
database, a view cannot move at all).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from dblab import migrate, safety, seed
from dblab.safety import BackupError, backups, mariadb_swap
from dblab.safety.discards import TableChanges, since_backup
from dblab.sandbox import Sandbox

AUDIT = sa.Table(
    "user_audit",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("note", sa.String(40), nullable=False),
)
VIEW = (
    "CREATE VIEW user_names AS SELECT id, name FROM users "
    "WHERE email LIKE '%@%'"
)
INSERT = "INSERT INTO user_audit (user_id, note) VALUES (NEW.id, '100% new')"
ON_INSERT = "CREATE TRIGGER users_audit AFTER INSERT ON users"
TRIGGER = {
    "sqlite": f"{ON_INSERT} BEGIN {INSERT}; END",
    "mysql": f"{ON_INSERT} FOR EACH ROW {INSERT}",
    "postgresql": "CREATE FUNCTION audit_user() RETURNS trigger "
    f"LANGUAGE plpgsql AS $$ BEGIN {INSERT}; RETURN NEW; END $$; "
    f"{ON_INSERT} FOR EACH ROW EXECUTE FUNCTION audit_user()",
}
RAW = {"no_parameters": True}


def seeded(box: Sandbox) -> None:
    """The app's tables with rows, a view and an audit trigger on users."""
    migrate.upgrade(box, "head")
    seed.app_data(box.engine, users=40, employees=5, addresses_per_user=2)
    with box.engine.begin() as connection:
        AUDIT.create(connection)
        connection.exec_driver_sql(VIEW, execution_options=RAW)
        connection.exec_driver_sql(TRIGGER[box.backend], execution_options=RAW)


def view_and_trigger_work(box: Sandbox) -> None:
    """The view answers; a new user is audited by the trigger."""
    users = sa.table(
        "users", sa.column("id"), sa.column("name"), sa.column("email")
    )
    count = sa.select(sa.func.count())
    box.engine.dispose()
    with box.engine.begin() as connection:
        everyone = connection.execute(count.select_from(users)).scalar()
        listed = sa.table("user_names")
        assert connection.execute(count.select_from(listed)).scalar() == (
            everyone
        )
        email = f"check{everyone}@example.com"
        connection.execute(sa.insert(users).values(name="検査", email=email))
        key = connection.execute(
            sa.select(users.c.id).where(users.c.email == email)
        ).scalar_one()
        notes = connection.execute(
            sa.select(AUDIT.c.note).where(AUDIT.c.user_id == key)
        )
        assert notes.scalars().all() == ["100% new"]


def unloadable(item: safety.Backup) -> Path:
    """Half of the dump, with a manifest that vouches for it."""
    path = item.path.with_name(f"half-{item.path.name}")
    path.write_bytes(item.path.read_bytes()[: item.size // 2])
    manifest = json.loads(item.manifest.read_text(encoding="utf-8"))
    manifest["size"], manifest["sha256"] = backups.file_digest(path)
    manifest["file"] = path.name
    safety.manifest_path(path).write_text(
        json.dumps(manifest), encoding="utf-8"
    )
    return path


def test_a_dump_that_fails_to_load_leaves_the_original(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seeded(sandbox)
    item = safety.backup(sandbox, tmp_path)
    before = safety.fingerprint(sandbox)
    with pytest.raises(BackupError) as caught:
        safety.restore_in_place(unloadable(item), sandbox)
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert not message.rstrip().endswith("-"), message  # the real error
    assert safety.fingerprint(sandbox) == before
    assert migrate.current(sandbox) == migrate.heads(sandbox)
    view_and_trigger_work(sandbox)


def test_writes_since_the_backup_are_counted_then_discarded(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seeded(sandbox)
    item = safety.backup(sandbox, tmp_path)
    users = sa.table(
        "users", sa.column("id"), sa.column("name"), sa.column("email")
    )
    addresses = sa.table("addresses", sa.column("id"))
    with sandbox.engine.begin() as connection:
        connection.execute(
            sa.insert(users),
            [
                {"name": f"後から {i}", "email": f"late{i}@example.com"}
                for i in range(3)
            ],
        )
        connection.execute(
            sa.update(users).where(users.c.id == 1).values(name="変更")
        )
        first = connection.execute(sa.select(sa.func.min(addresses.c.id)))
        connection.execute(
            sa.delete(addresses).where(addresses.c.id == first.scalar())
        )
    found = since_backup(item, sandbox)
    assert dict(found) == {
        "users": TableChanges(added=3, changed=1, removed=0),
        "addresses": TableChanges(added=0, changed=0, removed=1),
        "user_audit": TableChanges(added=3, changed=0, removed=0),
    }
    assert found.rows == 8
    after = safety.restore_in_place(item, sandbox)
    assert after == item.fingerprint
    assert safety.fingerprint(sandbox) == item.fingerprint
    assert not since_backup(item, sandbox)
    tables = set(sa.inspect(sandbox.engine).get_table_names())
    assert tables == set(item.fingerprint)  # no table left aside
    view_and_trigger_work(sandbox)


@pytest.mark.stress  # about 5 s
@pytest.mark.parametrize("backend", ["mysql"])
def test_a_swap_that_cannot_lock_leaves_the_original(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long transaction holds ``addresses``: the RENAME waits its bound,
    then the triggers already dropped are back and nothing is swapped."""
    seeded(sandbox)
    item = safety.backup(sandbox, tmp_path)
    before = safety.fingerprint(sandbox)
    monkeypatch.setattr(mariadb_swap, "LOCK_WAIT", 1)
    with sandbox.engine.connect() as reader:
        reader.exec_driver_sql("SELECT count(*) FROM addresses").scalar()
        with pytest.raises(BackupError, match="nothing swapped") as caught:
            safety.restore_in_place(item, sandbox)
        reader.rollback()
    assert "Lock wait timeout" in str(caught.value)
    assert safety.fingerprint(sandbox) == before
    view_and_trigger_work(sandbox)
