"""Checker of notebook 06: the split NOT NULL change, right and wrong.

Each wrong answer is a plausible mistake: the 2024 sample's constant,
one revision doing everything, the ALTER before the backfill, a backfill
that overwrites good rows, a downgrade that raises, a syntax error, a
``down_revision`` that points nowhere. The checker must name the problem
and leave the learner's sandbox usable.
"""

from __future__ import annotations

import textwrap

import pytest

from dblab import migrate
from dblab.checks import split_migrations

HEAD = '''\
"""{message}"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None

users = sa.table("users", sa.column("id", sa.Integer()), sa.column("email"))
'''

BACKFILL = """
def upgrade():
    placeholder = (
        "unknown-" + sa.cast(users.c.id, sa.String(20)) + "@example.invalid"
    )
    op.execute(
        users.update().where(users.c.email.is_(None)).values(email=placeholder)
    )


def downgrade():
    op.execute(
        users.update()
        .where(users.c.email.like("unknown-%@example.invalid"))
        .values(email=None)
    )
"""

ALTER = """
def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column(
            "email", existing_type=sa.String(120), nullable=False
        )


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column(
            "email", existing_type=sa.String(120), nullable=True
        )
"""

CONSTANT = BACKFILL.replace(
    "values(email=placeholder)", 'values(email="default@example.com")'
)
ALL_EMAILS = BACKFILL.replace(".where(users.c.email.is_(None))", "")
BROKEN_DOWN = ALTER.replace(
    "nullable=True\n        )",
    'nullable=True\n        )\n    raise RuntimeError("no way back")',
)


NO_UNIQUE = CONSTANT.replace(
    "def upgrade():\n",
    "def upgrade():\n"
    '    with op.batch_alter_table("users") as batch_op:\n'
    '        batch_op.drop_constraint("uq_users_email", type_="unique")\n',
)
STAYS_NOT_NULL = ALTER[: ALTER.index("def downgrade")] + (
    "def downgrade():\n    pass\n"
)


def revision(message: str, rev: str, down: str, body: str) -> str:
    return HEAD.format(message=message, revision=rev, down=down) + body


def solution(backfill: str = BACKFILL, alter: str = ALTER) -> dict:
    return {
        "b1_backfill": revision(
            "backfill", "b1b1b1b1b1b1", "71cc828891fc", backfill
        ),
        "b2_not_null": revision(
            "not null", "b2b2b2b2b2b2", "b1b1b1b1b1b1", alter
        ),
    }


@pytest.fixture
def exercise(server):
    box = split_migrations.prepare(server=server)
    yield box
    box.close()


def hand_in(box, files: dict) -> object:
    for name, text in files.items():
        split_migrations.write_revision(box, name, text)
    return split_migrations.split_not_null(box)


def test_solution_passes_and_sandbox_stays_usable(exercise) -> None:
    result = hand_in(exercise, solution())
    assert result.ok, result
    assert "NULL に戻りました" in str(result)
    assert migrate.upgrade(exercise, "head") == ("b2b2b2b2b2b2",)


def test_stub_is_not_done(exercise) -> None:
    assert split_migrations.write_revision(exercise, "x", ...) is None
    result = split_migrations.split_not_null(exercise)
    assert "まだ解答がありません" in result.message
    assert (
        "まだ解答がありません" in split_migrations.split_not_null(...).message
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (solution(backfill=CONSTANT), "一意ではありません"),
        (solution(backfill=ALL_EMAILS), "変わりました"),
        (solution(alter=BROKEN_DOWN), "downgrade が失敗"),
        (
            {
                "b1_alter_first": revision(
                    "x", "b1b1b1b1b1b1", "71cc828891fc", ALTER
                ),
                "b2_backfill": revision(
                    "y", "b2b2b2b2b2b2", "b1b1b1b1b1b1", BACKFILL
                ),
            },
            "NULL の行が残ったまま",
        ),
        (
            {
                "b1_both": revision(
                    "both",
                    "b1b1b1b1b1b1",
                    "71cc828891fc",
                    BACKFILL.replace("def upgrade():", "def _backfill():")
                    + textwrap.dedent(ALTER).replace(
                        "def upgrade():\n", "def upgrade():\n    _backfill()\n"
                    ),
                )
            },
            "1 つだけ",
        ),
        (solution(backfill=NO_UNIQUE), "UNIQUE 制約がなくなって"),
        (solution(alter=STAYS_NOT_NULL), "NOT NULL のまま"),
    ],
    ids=[
        "constant",
        "overwrites",
        "downgrade_raises",
        "alter_first",
        "single",
        "drops_unique",
        "stays_not_null",
    ],
)
def test_wrong_answers_are_rejected(exercise, files, expected) -> None:
    result = hand_in(exercise, files)
    assert not result.ok
    assert expected in result.message, result
    assert result.section and "06_split_migrations" in result.section
    assert migrate.current(exercise) == ("71cc828891fc",)


INDEXED = BACKFILL.replace(
    "def upgrade():\n",
    "def upgrade():\n"
    '    op.create_index("ix_users_name", "users", ["name"])\n',
)
LEAVES_INDEX = ALTER.replace(
    "nullable=True\n        )",
    "nullable=True\n        )\n"
    '    op.create_index("ix_users_age", "users", ["age"])',
)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (solution(backfill=INDEXED), "one change per revision"),
        (solution(alter=LEAVES_INDEX), "left over"),
    ],
    ids=["second_change", "left_over"],
)
@pytest.mark.parametrize("backend", ["sqlite"])
def test_schema_beyond_email_is_caught(exercise, files, expected) -> None:
    result = hand_in(exercise, files)
    assert not result.ok
    assert expected in result.message, result
    assert "ix_users_" in result.message
    assert migrate.current(exercise) == ("71cc828891fc",)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"b1_syntax": "def upgrade(:\n"},
            "b1_syntax.py の 1 行目に文法エラー",
        ),
        (
            {"b1_nowhere": revision("x", "b1b1b1b1b1b1", "01", BACKFILL)},
            "b1_nowhere.py の down_revision '01'",
        ),
        (
            {
                "b1_a": revision(
                    "x", "b1b1b1b1b1b1", "71cc828891fc", BACKFILL
                ),
                "b2_b": revision("y", "b2b2b2b2b2b2", "71cc828891fc", ALTER),
            },
            "multiple heads",
        ),
        ({"b1_norev": "x = 1\n"}, "b1_norev.py に revision"),
    ],
    ids=["syntax", "nowhere", "branch", "no_revision"],
)
@pytest.mark.parametrize("backend", ["sqlite"])
def test_bad_files_are_named(exercise, files, expected) -> None:
    result = hand_in(exercise, files)
    assert not result.ok
    assert expected in result.message, result
    assert migrate.current(exercise) == ("71cc828891fc",)


# Exercise 2: age → age_years as expand → migrate → contract.

AGES = 'users = sa.table("users", sa.column("age"), sa.column("age_years"))\n'
EXPAND = """
def upgrade():
    op.add_column("users", sa.Column("age_years", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("age_years")
"""
MIGRATE = (
    AGES
    + """

def upgrade():
    op.execute(users.update().values(age_years=users.c.age))


def downgrade():
    op.execute(users.update().values(age_years=None))
"""
)
CONTRACT = (
    AGES
    + """

def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("age")


def downgrade():
    op.add_column("users", sa.Column("age", sa.Integer(), nullable=True))
    op.execute(users.update().values(age=users.c.age_years))
"""
)
RENAME_IN_ONE = """
def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column(
            "age", new_column_name="age_years", existing_type=sa.Integer()
        )


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column(
            "age_years", new_column_name="age", existing_type=sa.Integer()
        )
"""
# Cell 46 copied: the contract makes the new column NOT NULL.
CONTRACT_NOT_NULL = CONTRACT.replace(
    '        batch_op.drop_column("age")\n',
    '        batch_op.drop_column("age")\n'
    "        batch_op.alter_column(\n"
    '            "age_years", existing_type=sa.Integer(), nullable=False\n'
    "        )\n",
)
LOSSY_DOWN = CONTRACT.replace(
    "    op.execute(users.update().values(age=users.c.age_years))\n", ""
)
COALESCE = MIGRATE.replace(
    "values(age_years=users.c.age)",
    "values(age_years=sa.func.coalesce(users.c.age, 0))",
)
EXPAND_AND_DROP = EXPAND.replace(
    "nullable=True))\n",
    "nullable=True))\n"
    '    with op.batch_alter_table("users") as batch_op:\n'
    '        batch_op.drop_column("age")\n',
)


def steps(expand=EXPAND, migrate_=MIGRATE, contract=CONTRACT) -> dict:
    return {
        "c1_expand": revision(
            "expand", "c1c1c1c1c1c1", "71cc828891fc", expand
        ),
        "c2_migrate": revision(
            "migrate", "c2c2c2c2c2c2", "c1c1c1c1c1c1", migrate_
        ),
        "c3_contract": revision(
            "contract", "c3c3c3c3c3c3", "c2c2c2c2c2c2", contract
        ),
    }


@pytest.fixture
def renaming(server):
    box = split_migrations.prepare_rename(server=server)
    yield box
    box.close()


def rename_in(box, files: dict) -> object:
    for name, text in files.items():
        split_migrations.write_revision(box, name, text)
    return split_migrations.expand_contract(box)


def test_expand_contract_solution_passes(renaming) -> None:
    result = rename_in(renaming, steps())
    assert result.ok, result
    assert "NULL のまま" in str(result)
    assert migrate.current(renaming) == ("71cc828891fc",)


CONTRACT_FIRST = {
    "c1_expand": steps()["c1_expand"],
    "c2_contract": revision(
        "contract", "c2c2c2c2c2c2", "c1c1c1c1c1c1", CONTRACT
    ),
    "c3_migrate": revision("migrate", "c3c3c3c3c3c3", "c2c2c2c2c2c2", MIGRATE),
}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {
                "c1_rename": revision(
                    "rename", "c1c1c1c1c1c1", "71cc828891fc", RENAME_IN_ONE
                )
            },
            "one revision doing expand and contract",
        ),
        (steps(contract=LOSSY_DOWN), "a downgrade that loses data"),
        (CONTRACT_FIRST, "contract before backfill"),
        (steps(migrate_=COALESCE), "backfill of NULL rows"),
        (steps(expand=EXPAND_AND_DROP), "contract too early"),
    ],
    ids=[
        "rename_in_one",
        "lossy_downgrade",
        "contract_first",
        "coalesce",
        "expand_drops_old",
    ],
)
@pytest.mark.parametrize("backend", ["sqlite"])
def test_expand_contract_wrong_answers(renaming, files, expected) -> None:
    result = rename_in(renaming, files)
    assert not result.ok
    assert expected in result.message, result
    assert result.section == split_migrations.SECTION_RENAME
    assert migrate.current(renaming) == ("71cc828891fc",)


def test_contract_copied_from_the_lesson_fails_everywhere(renaming) -> None:
    """Cell 46 copied: NOT NULL on a column with NULL ages; each database
    words the failure its own way (MariaDB: "Data truncated")."""
    result = rename_in(renaming, steps(contract=CONTRACT_NOT_NULL))
    assert not result.ok
    assert "age_years を NOT NULL に" in result.message, result
    assert migrate.current(renaming) == ("71cc828891fc",)


def test_expand_contract_stub() -> None:
    result = split_migrations.expand_contract(...)
    assert "まだ解答がありません" in result.message
