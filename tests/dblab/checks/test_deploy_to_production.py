"""Checkers of notebook 09, fed their solutions and plausible wrong answers.

Also: the CI example's ``run:`` lines are the commands the notebook runs.
The wrong answers run on SQLite (the logic); each solution on every
backend, since the plans, locks and DDL differ by database.
"""

from __future__ import annotations

import pytest

from dblab import migrate
from dblab.checks import deploy_to_production as dp

NOT_DONE = "まだ解答がありません"


def test_ci_file_runs_the_commands_the_notebook_runs() -> None:
    assert dp.ci_commands() == dp.CI_SETUP + dp.CI_COMMANDS
    notebook = (dp.CI_FILE.parents[2] / "notebooks").joinpath(
        "09_deploy_to_production.ipynb"
    )
    text = notebook.read_text(encoding="utf-8")
    assert "dp.CI_COMMANDS" in text and "dp.ci_commands()" in text
    argv = dp.local_argv(dp.CI_COMMANDS[-1])
    assert argv[1:] == ["-m", "dblab", "deploy", "--target", "staging"] + [
        "--dry-run"
    ]


# --- exercise 1: name the regression --------------------------------

NODES = {  # (an index node before, the full-scan node after)
    "sqlite": ("USING INDEX ix_users_name", "SCAN users"),
    "postgresql": ("ix_users_name", "Seq Scan on users"),
    "mysql": ("key=ix_users_name", "users: ALL"),
}


def regression(backend: str, **changes) -> dict:
    before, after = NODES[backend]
    return {"query": "users_by_name", "before": before, "after": after} | (
        changes
    )


def test_named_regression_solution(server, backend, reused_targets) -> None:
    where = reused_targets(dp.prepare_regression, server)
    result = dp.named_regression(regression(backend), where)
    assert result.ok, result
    assert migrate.current(where["production"]) == (dp.revision_id("INDEX"),)


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_named_regression_wrong_answers(server, reused_targets) -> None:
    where = reused_targets(dp.prepare_regression, server)
    check = dp.named_regression
    assert NOT_DONE in check(..., where).message
    # the query whose plan changed the other way (the new age index)
    wrong = check(
        regression(
            "sqlite",
            query="users_of_age",
            before="SCAN users",
            after="USING INDEX ix_users_age",
        ),
        where,
    )
    assert not wrong.ok and "速くなった" in wrong.message
    assert wrong.section == dp.SECTION_REHEARSAL
    wrong = check(regression("sqlite", query="user_by_email"), where)
    assert not wrong.ok and "not the regression" in wrong.message
    # before and after swapped: the index node named as the regression
    wrong = check(
        regression("sqlite", before="SCAN users", after="ix_users_name"),
        where,
    )
    assert not wrong.ok and "not in the real plan" in wrong.message
    wrong = check(regression("sqlite", before="SCAN users"), where)
    assert not wrong.ok and "インデックスを使っていた節" in wrong.message
    wrong = check("users_by_name", where)
    assert not wrong.ok and "辞書" in wrong.message


# --- exercise 2: the safe index revision ----------------------------

SAFE_UPGRADE = """def upgrade():
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_addresses_email_address",
            "addresses",
            ["email_address"],
            postgresql_concurrently=True,
        )


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_addresses_email_address",
            table_name="addresses",
            postgresql_concurrently=True,
        )
"""
SAFE = dp.EX2_HEADER + SAFE_UPGRADE
PLAIN = dp.EX2_HEADER + (
    "def upgrade():\n"
    '    op.create_index("ix_addresses_email_address", "addresses",'
    ' ["email_address"])\n\n\n'
    "def downgrade():\n"
    '    op.drop_index("ix_addresses_email_address",'
    ' table_name="addresses")\n'
)
NO_BLOCK = dp.EX2_HEADER + (
    "def upgrade():\n"
    '    op.create_index("ix_addresses_email_address", "addresses",'
    ' ["email_address"], postgresql_concurrently=True)\n\n\n'
    "def downgrade():\n"
    '    op.drop_index("ix_addresses_email_address",'
    ' table_name="addresses")\n'
)
WRONG_COLUMN = SAFE.replace('["email_address"]', '["user_id", "id"]')
KEPT_ON_DOWNGRADE = (
    dp.EX2_HEADER + SAFE_UPGRADE.split("def downgrade")[0] + ""
    "def downgrade():\n    pass\n"
)


def test_safe_index_solution(server, reused_targets) -> None:
    where = reused_targets(dp.prepare_safe_index, server)
    result = dp.safe_index(SAFE, where)
    assert result.ok, result
    if where.backend == "postgresql":
        assert any("ShareUpdateExclusiveLock" in d for d in result.details)
    assert migrate.current(where["production"]) == (dp.revision_id("INDEX"),)


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_safe_index_wrong_answers(server, reused_targets) -> None:
    where = reused_targets(dp.prepare_safe_index, server)
    assert NOT_DONE in dp.safe_index(..., where).message
    wrong = dp.safe_index(PLAIN, where)  # the lesson's mistake
    assert not wrong.ok and "LK101" in wrong.message
    assert "書き込みが止まります" in wrong.message
    assert wrong.section == dp.SECTION_SAFE_INDEX
    wrong = dp.safe_index(NO_BLOCK, where)
    assert not wrong.ok and "autocommit_block() の外" in wrong.message
    wrong = dp.safe_index(WRONG_COLUMN, where)
    assert not wrong.ok and "addresses.email_address" in wrong.message
    other_id = SAFE.replace(dp.EX2_REVISION, "0123456789ab")
    wrong = dp.safe_index(other_id, where)
    assert not wrong.ok and "wrong revision id" in wrong.message
    wrong = dp.safe_index(KEPT_ON_DOWNGRADE, where)
    assert not wrong.ok and "downgrade" in wrong.message


@pytest.mark.parametrize("backend", ["postgresql"])
def test_safe_index_plain_build_blocks_writes_on_postgresql(
    server, reused_targets
) -> None:
    """Past the lint (waived), the lock check itself catches it."""
    where = reused_targets(dp.prepare_safe_index, server)
    waived = PLAIN.replace(
        '["email_address"])\n',
        '["email_address"])  # dblab-lint: ignore[LK101] it is small\n',
        1,
    )
    wrong = dp.safe_index(waived, where)
    assert not wrong.ok and "ShareLock" in wrong.message, wrong
    assert "writes blocked" in wrong.message


# --- exercise 3: rollback or roll-forward ---------------------------

FIX = (
    '"""users.nickname gets a default again, so the old app can insert\n\n'
    f'Revision ID: {dp.EX3_REVISION}\n"""\n\n'
    "import sqlalchemy as sa\nfrom alembic import op\n\n"
    f'revision = "{dp.EX3_REVISION}"\n'
    f'down_revision = "{dp.revision_id("NICKNAME_REQUIRED")}"\n'
    "branch_labels = None\ndepends_on = None\n\n\n"
    "def upgrade():\n"
    '    with op.batch_alter_table("users") as batch_op:\n'
    "        batch_op.alter_column(\n"
    '            "nickname",\n'
    "            existing_type=sa.String(50),\n"
    "            existing_nullable=False,\n"
    '            server_default="",\n'
    "        )\n\n\n"
    "def downgrade():\n"
    '    with op.batch_alter_table("users") as batch_op:\n'
    "        batch_op.alter_column(\n"
    '            "nickname",\n'
    "            existing_type=sa.String(50),\n"
    "            existing_nullable=False,\n"
    "            server_default=None,\n"
    "        )\n"
)


def test_incident_answer_solution(server, reused_targets) -> None:
    incident = reused_targets(dp.prepare_incident, server)
    assert incident.error  # the old app's INSERT really fails
    production = incident.where["production"]
    assert dp.old_app_error(production.engine)
    result = dp.incident_answer(
        {"decision": "roll-forward", "revision": FIX}, incident
    )
    assert result.ok, result
    # the checker ran it on a copy: production still waits for the fix
    assert migrate.current(production) == (
        dp.revision_id("NICKNAME_REQUIRED"),
    )


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_incident_answer_wrong_answers(server, reused_targets) -> None:
    incident = reused_targets(dp.prepare_incident, server)
    check = dp.incident_answer
    assert NOT_DONE in check(..., incident).message
    restore = f"dblab deploy --target production --restore {incident.backup}"
    wrong = check({"decision": "rollback", "command": restore}, incident)
    assert not wrong.ok and "書き込みを" in wrong.message
    assert "restore loses data written since" in wrong.message
    assert wrong.section == dp.SECTION_ROLLBACK
    down = f"alembic -x target=production downgrade {dp.revision_id('INDEX')}"
    wrong = check({"decision": "rollback", "command": down}, incident)
    assert not wrong.ok and "nickname が消えました" in wrong.message
    unrelated = FIX.replace('server_default="",', "server_default=None,")
    wrong = check(
        {"decision": "roll-forward", "revision": unrelated}, incident
    )
    assert not wrong.ok and "まだ失敗します" in wrong.message
    dropped = FIX.replace(
        'batch_op.alter_column(\n            "nickname",\n'
        "            existing_type=sa.String(50),\n"
        "            existing_nullable=False,\n"
        '            server_default="",\n        )',
        'batch_op.drop_column("nickname")',
        1,
    )
    assert "drop_column" in dropped
    wrong = check({"decision": "roll-forward", "revision": dropped}, incident)
    assert not wrong.ok and "nickname が消えました" in wrong.message
    wrong = check({"decision": "roll-forward", "command": down}, incident)
    assert not wrong.ok and "revision の全文" in wrong.message
    wrong = check({"decision": "rollback"}, incident)
    assert not wrong.ok and '"command"' in wrong.message
