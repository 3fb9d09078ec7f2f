"""The capstone's grader rejects the mistakes its lesson is about.

Each wrong plan or revision runs on SQLite (the mistakes do not depend
on the database) and must be rejected with the message that names it
and the section that teaches the safe form. The ones the lint names are
rejected before any traffic runs; of those that need a replay, the
lesson's first (contract too early) runs by default, the others with
``-m stress``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_zero_downtime import ANSWER, PLAN, copy_answer

from dblab.checks import zero_downtime
from dblab.sandbox import Sandbox

ROWS = 600
PACE = zero_downtime.Pace(baseline=0.3, rollout=0.2, settle=0.05)


@pytest.fixture
def box() -> Iterator[Sandbox]:
    made = zero_downtime.prepare_capstone()
    yield made
    made.close()


def grade(box: Sandbox, plan=PLAN, replace=None):
    copy_answer(box, replace or {})
    return zero_downtime.check_capstone(box, plan, rows=ROWS, pace=PACE)


def test_contract_while_a_version_still_uses_name(box: Sandbox) -> None:
    plan = [s for s in PLAN if s != "deploy new-only"]
    result = grade(box, plan)
    assert not result.ok
    assert "contract" in result.message and "new-read" in result.message
    assert "name" in result.message
    assert result.section == "10_zero_downtime_capstone「ロールアウト計画」"
    # new-read's writes of name fail once it is gone (if one came soon
    # enough to be seen); no other version is live by then.
    errors = [r for r in result.report.run.requests if r.error]
    assert {r.version for r in errors} <= {"new-read"}


NOT_NULL_FIRST = {
    # expand -> NOT NULL -> backfill -> index -> contract
    "c10e00000004": {
        'down_revision = "c10e00000003"': 'down_revision = "c10e00000001"'
    },
    "c10e00000002": {
        'down_revision = "c10e00000001"': 'down_revision = "c10e00000004"'
    },
    "c10e00000005": {
        'down_revision = "c10e00000004"': 'down_revision = "c10e00000003"'
    },
}


def test_not_null_before_the_backfill(box: Sandbox) -> None:
    plan = [
        "apply c10e00000001",
        "deploy dual",
        "apply c10e00000004",
        "apply c10e00000002",
        "apply c10e00000003",
        "deploy new-read",
        "deploy new-only",
        "apply c10e00000005",
    ]
    result = grade(box, plan, NOT_NULL_FIRST)
    assert not result.ok
    assert "NOT NULL before the backfill" in result.message
    assert (
        result.section
        == "06_split_migrations「サンプル 3: NOT NULL への変更」"
    )


BACKFILL = ANSWER / "2024_06_01_0910-c10e00000002_backfill_split_name.py"
BACKFILL_TEXT = BACKFILL.read_text(encoding="utf-8")
ONE_TRANSACTION = {
    "c10e00000002": {
        BACKFILL_TEXT[
            BACKFILL_TEXT.index("def upgrade():") : BACKFILL_TEXT.index(
                "def downgrade():"
            )
        ]: (
            "def upgrade():\n"
            "    bind = op.get_bind()  # no autocommit_block(), no commit\n"
            "    family, given = split_name(bind.dialect.name)\n"
            "    fill = (\n"
            "        users.update()\n"
            "        .where(BATCH, users.c.family_name.is_(None))\n"
            "        .values(family_name=family, given_name=given)\n"
            "    )\n"
            "    last = 0\n"
            "    while (upto := next_last(bind, last)) is not None:\n"
            '        bind.execute(fill, {"last": last, "upto": upto})\n'
            "        last = upto\n\n\n"
        ),
    }
}


@pytest.mark.stress  # a replay under traffic: about 4 s
def test_one_transaction_backfill(box: Sandbox) -> None:
    result = grade(box, replace=ONE_TRANSACTION)
    assert not result.ok
    assert "one-transaction backfill" in result.message
    assert result.section == "08_anti_patterns「大規模な一括更新」"


SAFE_INDEX = ANSWER / "2024_06_01_0920-c10e00000003_index_family_name.py"
SAFE_UPGRADE = SAFE_INDEX.read_text(encoding="utf-8").split("def downgrade")[0]
BLOCKING_INDEX = {
    "c10e00000003": {
        SAFE_UPGRADE[SAFE_UPGRADE.index("def upgrade():") :]: (
            "def upgrade():\n"
            '    op.create_index(INDEX, "users", ["family_name"])\n\n\n'
        )
    }
}


def test_index_built_while_blocking_writes(box: Sandbox) -> None:
    result = grade(box, replace=BLOCKING_INDEX)
    assert not result.ok
    assert "index built while blocking writes" in result.message
    assert "CONCURRENTLY" in result.message
    assert result.report is None  # rejected before any traffic ran


PLAIN_RENAME = {
    "c10e00000001": {
        'op.add_column("users", sa.Column("family_name", sa.String(50)))': (
            'op.alter_column("users", "name", new_column_name="family_name",'
            " existing_type=sa.String(50))"
        ),
    }
}


def test_plain_rename(box: Sandbox) -> None:
    result = grade(box, replace=PLAIN_RENAME)
    assert not result.ok
    assert "a plain rename" in result.message
    assert result.section == (
        "06_split_migrations「列名の変更: expand → migrate → contract」"
    )


@pytest.mark.stress  # a replay under traffic: about 4 s
def test_new_read_before_the_backfill(box: Sandbox) -> None:
    plan = [
        "apply c10e00000001",
        "deploy dual",
        "deploy new-read",
        "apply c10e00000002",
        "apply c10e00000003",
        "apply c10e00000004",
        "deploy new-only",
        "apply c10e00000005",
    ]
    result = grade(box, plan)
    assert not result.ok
    assert "before the backfill was complete" in result.message
    assert "new-read" in result.message


@pytest.mark.stress  # a replay under traffic: about 4 s
def test_old_version_left_running_through_the_backfill(box: Sandbox) -> None:
    plan = ["apply c10e00000001", "apply c10e00000002", *PLAN[1:1]]
    plan += [
        "apply c10e00000003",
        "deploy dual",
        "apply c10e00000004",
        "deploy new-read",
        "deploy new-only",
        "apply c10e00000005",
    ]
    result = grade(box, plan)
    assert not result.ok
    assert "NOT NULL" in result.message or "old" in result.message
