"""Restores over the original: never drop first, count what they discard.

The adversaries: a dump that passes its manifest but fails to load (the
original must stay as it was, and the message must be the tool's own),
and writes made after the backup (a restore discards them: counted per
table by primary key before anyone restores).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from dblab import migrate, safety, seed
from dblab.safety import BackupError, backups
from dblab.safety.discards import TableChanges, since_backup
from dblab.sandbox import Sandbox


def seeded(box: Sandbox) -> None:
    migrate.upgrade(box, "head")
    seed.app_data(box.engine, users=40, employees=5, addresses_per_user=2)


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
    }
    assert found.rows == 5
    after = safety.restore_in_place(item, sandbox)
    assert after == item.fingerprint
    assert safety.fingerprint(sandbox) == item.fingerprint
    assert not since_backup(item, sandbox)
