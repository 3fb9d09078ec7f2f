"""One revision per rule that must be flagged, and its safe form that must
not be, each written the way real projects write it."""

from __future__ import annotations

import pytest

from dblab import lint
from dblab.lint.rules import RULES, SUPPORTED

ID = "sa.Column('id', sa.Integer(), primary_key=True)"
TIMEOUT = (
    "if op.get_bind().dialect.name == 'postgresql':\n"
    "    op.execute(\"SET lock_timeout = '2s'\")\n"
    "else:\n"
    "    op.execute('SET SESSION lock_wait_timeout = 2')\n"
)

CASES = {
    "MG101": (
        "op.add_column('users', sa.Column('x', sa.Integer()))",
        "op.add_column('users', sa.Column('x', sa.Integer()))",
        {"downgrade": None},
    ),
    "MG102": (
        "op.add_column('users', sa.Column('x', sa.Integer()))",
        "op.add_column('users', sa.Column('x', sa.Integer()))",
        {"downgrade": "pass"},
    ),
    "MF103": (
        "op.add_column('users', sa.Column('x', sa.Integer(), nullable=False))",
        "op.add_column('users', sa.Column('x', sa.Integer(), nullable=False, server_default='0'))",
        {},
    ),
    "MF104": (
        "with op.batch_alter_table('users') as batch_op:\n"
        "    batch_op.alter_column('email', existing_type=sa.String(120), nullable=False)",
        "op.execute(\"UPDATE users SET email = 'x' || id WHERE email IS NULL\")\n"
        "with op.batch_alter_table('users') as batch_op:\n"
        "    batch_op.alter_column('email', existing_type=sa.String(120), nullable=False)",
        {"waive": "MG201"},
    ),
    "DS102": (
        "op.drop_table('addresses')",
        "op.create_table('notes', " + ID + ")",
        {},
    ),
    "DS103": (
        "with op.batch_alter_table('users') as b:\n    b.drop_column('age')",
        "with op.batch_alter_table('users') as b:\n    b.add_column(sa.Column('age2', sa.Integer()))",
        {},
    ),
    "BC101": (
        "op.rename_table('users', 'people')",
        "op.create_table('people', " + ID + ")",
        {},
    ),
    "BC102": (
        "op.alter_column(table_name='users', column_name='name', new_column_name='full_name', existing_type=sa.String(50))",
        "op.add_column('users', sa.Column('full_name', sa.String(50)))",
        {},
    ),
    "BC103": (
        "op.drop_column('users', 'name')\n"
        "op.add_column('users', sa.Column('full_name', sa.String(50)))",
        "op.add_column('users', sa.Column('full_name', sa.String(50)))",
        {"waive": "DS103"},
    ),
    "MF201": (
        "op.execute('UPDATE users SET age = 0')",
        "op.execute('UPDATE users SET age = 0 WHERE id BETWEEN 1 AND 1000')",
        {},
    ),
    "MG201": (
        "op.add_column('users', sa.Column('x', sa.Integer()))\n"
        "op.execute('UPDATE users SET x = 1 WHERE x IS NULL')",
        "op.execute('UPDATE users SET x = 1 WHERE x IS NULL')",
        {},
    ),
    "NM101": (
        "op.create_table('user', " + ID + ")",
        "op.create_table('users', " + ID + ")",
        {},
    ),
    "LK101": (
        "op.create_index(op.f('ix_users_name'), 'users', ['name'])",
        "with op.get_context().autocommit_block():\n"
        "    op.create_index('ix_users_name', 'users', ['name'], postgresql_concurrently=True)",
        {},
    ),
    "MF105": (
        "op.create_index('ix_users_name', 'users', ['name'], postgresql_concurrently=True)",
        "with op.get_context().autocommit_block():\n"
        "    op.execute('CREATE INDEX CONCURRENTLY ix_users_name ON users (name)')",
        {},
    ),
    "LK102": (
        "op.create_foreign_key('fk_a_user', 'addresses', 'users', ['user_id'], ['id'])",
        "op.create_table('notes', "
        + ID
        + ", sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id')))",
        {},
    ),
    "LK103": (
        "op.create_check_constraint('ck_age', 'users', 'age >= 0')",
        "op.create_check_constraint('ck_age', 'users', 'age >= 0', postgresql_not_valid=True)",
        {"dialects": ["postgresql"]},
    ),
    "LK104": (
        "op.alter_column('users', 'email', existing_type=sa.String(120), nullable=False)",
        "op.alter_column('users', 'email', existing_type=sa.String(120), existing_nullable=False, comment='e-mail')",
        {"waive": "MF104"},
    ),
    "RW101": (
        "op.alter_column('users', 'id', existing_type=sa.Integer(), type_=sa.BigInteger())",
        "op.alter_column('users', 'name', existing_type=sa.String(20), type_=sa.String(60))",
        {},
    ),
    "RW102": (
        "op.execute('ALTER TABLE users ADD COLUMN seq SERIAL PRIMARY KEY')",
        "op.execute('ALTER TABLE users ADD COLUMN note TEXT')",
        {},
    ),
    "LK301": (
        "op.add_column('users', sa.Column('x', sa.Integer()))",
        TIMEOUT + "op.add_column('users', sa.Column('x', sa.Integer()))",
        {},
    ),
}


def test_every_rule_has_a_case_or_its_own_test() -> None:
    own_tests = {"MG301", "LW001"}
    assert set(RULES) == set(CASES) | own_tests


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_flags_the_bad_and_passes_the_good(versions, code) -> None:
    bad, good, options = CASES[code]
    head = ""
    if options.get("waive"):
        head = f"# dblab-lint: ignore[{options['waive']}] fixture reason\n"
    downgrade = options.get("downgrade", "op.drop_column('users', 'x')")
    bad_path = versions.add(
        "bad0000000001", bad, head=head, downgrade=downgrade
    )
    found = lint.lint(bad_path)
    assert code in {f.code for f in found}, [str(f) for f in found]
    finding = next(f for f in found if f.code == code)
    assert finding.line >= 1 and finding.section
    assert code in str(finding) and "→" in str(finding)
    expected = RULES[code].dialects
    if expected:
        wanted = options.get("dialects") or [
            d for d in SUPPORTED if d in expected
        ]
        assert list(finding.dialects) == wanted
        assert ", ".join(wanted) in str(finding)
    good_path = versions.add("good000000001", good, head=head)
    good_found = lint.lint(good_path, dialects=options.get("good_dialects"))
    assert code not in {f.code for f in good_found}, [
        str(f) for f in good_found
    ]


def test_a_rule_for_some_databases_says_nothing_for_the_others(
    versions,
) -> None:
    path = versions.add("idx000000001", CASES["LK101"][0])
    assert "LK101" in {f.code for f in lint.lint(path)}
    assert "LK101" not in {f.code for f in lint.lint(path, dialects=["mysql"])}


def test_waiver_needs_a_reason(versions) -> None:
    path = versions.add(
        "ccc000000001",
        "op.drop_table('addresses')",
        head="# dblab-lint: ignore[DS102, LK301]\n",
    )
    assert [f.code for f in lint.lint(path)] == ["LW001", "LW001"]
    reasoned = versions.add(
        "ddd000000001",
        "op.drop_table('addresses')",
        head="# dblab-lint: ignore[DS102, LK301] the table was never used\n",
    )
    assert lint.lint(reasoned) == []


def test_two_unlabelled_heads_are_one_finding(versions) -> None:
    versions.add("root00000001", "op.create_table('a', " + ID + ")")
    for rev in ("left00000001", "right0000001"):
        versions.add(
            rev,
            "op.create_table(" + repr(rev[:4]) + ", " + ID + ")",
            down="root00000001",
        )
    found = [f for f in versions.findings() if f.code == "MG301"]
    assert len(found) == 1
    assert (
        "left00000001" in found[0].detail and "right0000001" in found[0].detail
    )


def test_per_database_rules_can_be_left_out(versions) -> None:
    assert lint.PER_DATABASE == {
        "LK101", "LK102", "LK103", "LK104", "LK301", "MF105", "RW101", "RW102"
    }  # fmt: skip
    path = versions.add(
        "both00000001",
        "op.add_column('users', sa.Column('x', sa.Integer(), nullable=False))\n"
        "op.create_index('ix_users_x', 'users', ['x'])",
    )
    assert versions.codes(path) == ["LK101", "LK301", "MF103"]
    assert versions.codes(path, disable=lint.PER_DATABASE) == ["MF103"]
