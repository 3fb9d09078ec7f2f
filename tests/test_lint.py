"""dblab lint: one revision per rule that must be flagged, one that passes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dblab import cli, lint, settings
from dblab.lint import LintError

ID = "sa.Column('id', sa.Integer())"
HEADER = '''"""fixture"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}
'''
DOWN = "\n\ndef downgrade():\n    op.drop_column('users', 'x')\n"


def write(
    folder: Path, rev: str, upgrade: str, *, down=None, tail=DOWN, head=""
):
    body = textwrap.indent(textwrap.dedent(upgrade).strip(), "    ")
    text = head + HEADER.format(rev=rev, down=down) + "\n\ndef upgrade():\n"
    path = folder / f"{rev}.py"
    path.write_text(text + body + "\n" + tail, encoding="utf-8")
    return path


CASES = {
    "MG101": (
        "op.add_column('users', sa.Column('x', sa.Integer()))",
        "op.add_column('users', sa.Column('x', sa.Integer()))",
        {"tail": ""},
    ),
    "MG102": (
        "op.add_column('users', sa.Column('x', sa.Integer()))",
        "op.add_column('users', sa.Column('x', sa.Integer()))",
        {"tail": "\n\ndef downgrade():\n    pass\n"},
    ),
    "MF103": (
        "op.add_column('users', sa.Column('x', sa.Integer(), nullable=False))",
        "op.add_column('users', sa.Column('x', sa.Integer(), "
        "nullable=False, server_default='0'))",
        {},
    ),
    "MF104": (
        "op.alter_column('users', 'email', existing_type=sa.String(120), "
        "nullable=False)",
        "op.execute(\"UPDATE users SET email = 'x' || id WHERE email IS NULL\")\n"
        "op.alter_column('users', 'email', existing_type=sa.String(120), "
        "nullable=False)",
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
        "op.alter_column('users', 'name', new_column_name='full_name', existing_type=sa.String(50))",
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
}


def codes(path: Path) -> set[str]:
    return {f.code for f in lint.lint(path)}


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_flags_the_bad_and_passes_the_good(tmp_path, code) -> None:
    bad, good, options = CASES[code]
    tail = options.get("tail", DOWN)
    head = ""
    if options.get("waive"):
        head = f"# dblab-lint: ignore[{options['waive']}] fixture reason\n"
    bad_path = write(tmp_path, "bad0000000001", bad, tail=tail, head=head)
    good_path = write(
        tmp_path,
        "good000000001",
        good,
        tail=DOWN if code.startswith("MG1") else tail,
        head=head,
    )
    found = lint.lint(bad_path)
    assert code in {f.code for f in found}
    finding = next(f for f in found if f.code == code)
    assert finding.line >= 1 and finding.section
    assert code in str(finding) and "→" in str(finding)
    assert code not in codes(good_path), [str(f) for f in lint.lint(good_path)]


def test_backfill_in_the_earlier_revision_counts(tmp_path) -> None:
    write(
        tmp_path,
        "aaa000000001",
        "op.execute(\"UPDATE users SET email = 'x' || id WHERE email IS NULL\")",
    )
    write(
        tmp_path,
        "bbb000000002",
        "op.alter_column('users', 'email', existing_type=sa.String(120), nullable=False)",
        down="aaa000000001",
    )
    assert "MF104" not in codes(tmp_path)


def test_backfill_two_revisions_earlier_counts(tmp_path) -> None:
    write(
        tmp_path,
        "aaa000000001",
        "op.execute(\"UPDATE users SET email = 'x' || id WHERE email IS NULL\")",
    )
    write(
        tmp_path,
        "bbb000000002",
        "op.add_column('users', sa.Column('x', sa.Integer()))",
        down="aaa000000001",
    )
    write(
        tmp_path,
        "ccc000000003",
        "op.alter_column('users', 'email', existing_type=sa.String(120), nullable=False)",
        down="bbb000000002",
    )
    assert "MF104" not in codes(tmp_path)


def test_waiver_needs_a_reason(tmp_path) -> None:
    path = write(
        tmp_path,
        "ccc000000001",
        "op.drop_table('addresses')",
        head="# dblab-lint: ignore[DS102]\n",
    )
    found = lint.lint(path)
    assert [f.code for f in found] == ["LW001"]
    reasoned = write(
        tmp_path,
        "ddd000000001",
        "op.drop_table('addresses')",
        head="# dblab-lint: ignore[DS102] the table was never used\n",
    )
    assert codes(reasoned) == set()


def test_two_heads_are_one_finding(tmp_path) -> None:
    write(
        tmp_path,
        "root00000001",
        "op.create_table('a', " + ID + ")",
    )
    for rev in ("left00000001", "right0000001"):
        write(
            tmp_path,
            rev,
            "op.create_table(" + repr(rev[:4]) + ", " + ID + ")",
            down="root00000001",
        )
    found = [f for f in lint.lint(tmp_path) if f.code == "MG301"]
    assert len(found) == 1
    assert (
        "left00000001" in found[0].detail and "right0000001" in found[0].detail
    )


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("syntax", "構文エラー"),
        ("empty", "not a versions folder"),
        ("chain", "broken chain"),
        ("missing", "見つかりません"),
    ],
)
def test_bad_input_is_one_line(tmp_path, setup, expected) -> None:
    target = tmp_path
    if setup == "syntax":
        (tmp_path / "broken.py").write_text(
            "revision = 'x'\ndown_revision = None\ndef upgrade(:\n"
        )
    elif setup == "empty":
        (tmp_path / "notes.py").write_text("print('hello')\n")
    elif setup == "chain":
        write(
            tmp_path,
            "orphan000001",
            "op.create_table('a', " + ID + ")",
            down="nowhere00000",
        )
    else:
        target = tmp_path / "nothing"
    with pytest.raises(LintError) as caught:
        lint.lint(target)
    assert expected in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


def test_the_kit_passes_its_own_linter(capsys) -> None:
    assert cli.main(["lint"]) == 0
    assert "指摘はありません" in capsys.readouterr().out
    assert lint.lint(settings.MIGRATIONS / "versions") == []


def test_command_exits_non_zero_on_findings(tmp_path, capsys) -> None:
    path = write(tmp_path, "eee000000001", "op.drop_table('addresses')")
    assert cli.main(["lint", str(path)]) == 1
    assert "DS102" in capsys.readouterr().out
    (tmp_path / "bad.py").write_text("def upgrade(:\n")
    assert cli.main(["lint", str(tmp_path / "bad.py")]) == 2
    assert "構文エラー" in capsys.readouterr().err
