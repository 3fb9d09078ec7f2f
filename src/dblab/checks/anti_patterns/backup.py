"""Exercise 3 of notebook 08: back up, verify and restore.

:func:`prepare_backup` seeds the exercise database and records its
fingerprint beside it (in the sandbox's folder, so the state travels
with the sandbox, not in this module); :func:`accident` applies
:data:`CLEANUP_REVISION` (a data migration with no way back, not the
lesson's dropped column) and records the damage; :func:`backup_restored`
looks at the learner's backup, its verification and the database after
the accident.
"""

from __future__ import annotations

import json

from sqlalchemy.engine import URL

from dblab import migrate, revisions, safety, sandbox, seed, settings
from dblab.checks import Result, checker, failed, passed, write_revision
from dblab.sandbox import Sandbox

SECTION_BACKUP = "08_anti_patterns「適切なバックアップ計画の欠如」"
HEAD = revisions.HEAD
STATE_FILE = "backup_exercise.json"
"""In the sandbox's folder: the fingerprints of before and after."""

DESTRUCTIVE_REVISION = f'''\
"""drop users.age (nobody reads it, or so we think)"""

import sqlalchemy as sa
from alembic import op

revision = "dead00000001"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("age")


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("age", sa.Integer(), nullable=True))
'''
"""A revision that throws data away: the lesson's example."""

CLEANUP_REVISION = '''\
"""delete the addresses of users who left (the WHERE is wrong)"""

from alembic import op

revision = "c1ea00000001"
down_revision = "<HEAD>"
branch_labels = None
depends_on = None


def upgrade():
    # meant: the users who left; wrote: every user above id 100
    op.execute("DELETE FROM addresses WHERE user_id > 100")


def downgrade():
    pass  # deleted rows cannot be written back by code
'''.replace("<HEAD>", HEAD)
"""The backup exercise's accident: a clean-up whose downgrade is empty."""


# -- the scenario --


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
    (box.folder / STATE_FILE).unlink(missing_ok=True)
    _remember(box, original=safety.fingerprint(box.engine))
    return box


def accident(box: Sandbox) -> list[str]:
    """Apply :data:`CLEANUP_REVISION`, then downgrade; return the loss."""
    name = "c1ea00000001_delete_old_addresses"
    write_revision(box, name, CLEANUP_REVISION)
    migrate.upgrade(box, "head")
    migrate.downgrade(box, HEAD)  # the record goes back, the rows do not
    (box.migrations / "versions" / f"{name}.py").unlink()
    after = safety.fingerprint(box.engine)
    _remember(box, damaged=after)
    return _recalled(box)["original"].differences(after)


def _remember(box: Sandbox, **prints: safety.Fingerprint) -> None:
    state = {k: v.to_json() for k, v in _recalled(box).items()}
    state.update({k: v.to_json() for k, v in prints.items()})
    path = box.folder / STATE_FILE
    path.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")


def _recalled(box: Sandbox) -> dict[str, safety.Fingerprint]:
    try:
        data = json.loads((box.folder / STATE_FILE).read_text("utf-8"))
    except (OSError, ValueError, AttributeError):
        return {}
    return {k: safety.Fingerprint.from_json(v) for k, v in data.items()}


# -- the checker --


@checker(SECTION_BACKUP)
def backup_restored(
    backup: safety.Backup, verification: safety.Verification, exercise: Sandbox
) -> Result:
    """A backup from before the accident, verified, and restored."""
    state = _recalled(exercise)
    original = state.get("original")
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
    damaged = state.get("damaged")
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
