"""The chain: backfills credited per column and in order, one file linted
like its folder, version locations, one walk, broken links, --since."""

from __future__ import annotations

import os

import pytest

from dblab import lint
from dblab.lint import checks, source
from dblab.lint.state import ChainState

NOT_NULL = "op.alter_column('users', '{column}', existing_type=sa.String(50), nullable=False)"
FILL = "op.execute(\"UPDATE users SET {column} = 'x' WHERE {column} IS NULL\")"


def test_a_backfill_earlier_in_the_chain_credits_its_column(versions) -> None:
    versions.add("aaa000000001", FILL.format(column="email"))
    versions.add(
        "bbb000000002",
        "op.add_column('users', sa.Column('x', sa.Integer()))",
        down="aaa000000001",
    )
    path = versions.add(
        "ccc000000003", NOT_NULL.format(column="email"), down="bbb000000002"
    )
    assert "MF104" not in versions.codes(path)


def test_a_backfill_credits_only_the_column_it_fills(versions) -> None:
    versions.add("aaa000000001", FILL.format(column="email"))
    path = versions.add(
        "bbb000000002", NOT_NULL.format(column="nickname"), down="aaa000000001"
    )
    assert "MF104" in versions.codes(path)


def test_a_backfill_before_the_column_existed_credits_nothing(
    versions,
) -> None:
    versions.add(
        "aaa000000001",
        "users = sa.table('users')\nop.execute(users.update().values({users.c.x: 1}).where(users.c.id > 0))",
        downgrade="pass",
    )
    versions.add(
        "bbb000000002",
        "op.execute(sa.text('UPDATE users SET name = upper(name) WHERE id > 0'))",
        down="aaa000000001",
    )
    versions.add(
        "ccc000000003",
        "op.add_column('users', sa.Column('nickname', sa.String(50)))",
        down="bbb000000002",
    )
    path = versions.add(
        "ddd000000004", NOT_NULL.format(column="nickname"), down="ccc000000003"
    )
    assert "MF104" in versions.codes(path)


def test_a_backfill_on_another_branch_does_not_count(versions) -> None:
    versions.add(
        "root00000001",
        "op.add_column('users', sa.Column('email', sa.String(50)))",
    )
    versions.add(
        "fill00000001", FILL.format(column="email"), down="root00000001"
    )
    path = versions.add(
        "alte00000001", NOT_NULL.format(column="email"), down="root00000001"
    )
    assert "MF104" in versions.codes(path)
    merged = versions.add(
        "merg00000001",
        NOT_NULL.format(column="email"),
        down=("fill00000001", "alte00000001"),
    )
    assert "MF104" not in versions.codes(merged)


def test_one_file_gets_the_findings_it_gets_in_its_folder(versions) -> None:
    versions.add("aaa000000001", FILL.format(column="email"))
    files = [
        versions.add(
            "bbb000000002",
            NOT_NULL.format(column="email"),
            down="aaa000000001",
        ),
        versions.add(
            "ccc000000003",
            NOT_NULL.format(column="nickname"),
            down="bbb000000002",
        ),
    ]
    folder = [
        f for f in versions.findings() if f.path.name != "aaa000000001.py"
    ]
    one_by_one = [f for path in files for f in versions.findings(path)]
    assert sorted(map(str, folder)) == sorted(map(str, one_by_one))
    assert {f.code for f in one_by_one} >= {"MF104", "LK104"}


@pytest.mark.parametrize(
    ("separator", "joined"),
    [("", " "), ("os", os.pathsep), (";", ";"), ("space", " ")],
)
def test_version_locations_and_subfolders_are_read(
    tmp_path, versions, separator, joined
) -> None:
    versions.add(
        "aaa000000001", "op.create_table('a', sa.Column('id', sa.Integer()))"
    )
    versions.add(
        "bbb000000002",
        "op.drop_table('a')",
        down="aaa000000001",
        folder=versions.folder / "2024",
    )
    extra = tmp_path / "plugins" / "versions"
    versions.add(
        "ccc000000003",
        "op.drop_column('users', 'age')",
        down="bbb000000002",
        folder=extra,
    )
    line = f"version_path_separator = {separator}\n" if separator else ""
    (tmp_path / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s\n"
        + line
        + f"version_locations = %(here)s/versions{joined}%(here)s/plugins/versions\n"
    )
    (versions.folder / "notes.txt").write_text("op.drop_table('x')\n")
    codes = versions.codes()
    assert codes.count("DS102") == 1 and "DS103" in codes
    assert "broken chain" not in " ".join(str(f) for f in versions.findings())


def test_the_chain_is_walked_once(versions, monkeypatch) -> None:
    down = None
    for number in range(60):
        rev = f"r{number:011d}"
        versions.add(
            rev,
            f"op.add_column('t{number % 7}', sa.Column('c{number}', sa.Integer()))",
            down=down,
        )
        down = rev
    parsed, checked = [], []
    real_parse, real_check = source.parse, checks.check
    monkeypatch.setattr(
        "dblab.lint.chain.parse", lambda p: parsed.append(p) or real_parse(p)
    )
    monkeypatch.setattr(
        checks, "check", lambda *a: checked.append(a[0]) or real_check(*a)
    )
    copies = []
    real_merged = ChainState.merged.__func__
    monkeypatch.setattr(
        ChainState,
        "merged",
        classmethod(
            lambda cls, s: copies.append(len(s)) or real_merged(cls, s)
        ),
    )
    found = versions.findings()
    assert len(parsed) == 60 and len(checked) == 60
    assert copies == [0]  # one fresh state at the root, handed on after
    assert {f.code for f in found} == {"LK301"}


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("syntax", "構文エラー"),
        ("empty", "not a versions folder"),
        ("chain", "broken chain"),
        ("missing", "見つかりません"),
        ("latin1", "not UTF-8"),
        ("duplicate", "duplicate revision id"),
    ],
)
def test_bad_input_is_one_line(versions, setup, expected) -> None:
    target = versions.folder
    if setup == "syntax":
        (target / "broken.py").write_text(
            "revision = 'x'\ndown_revision = None\ndef upgrade(:\n"
        )
    elif setup == "empty":
        (target / "notes.py").write_text("print('hello')\n")
    elif setup == "chain":
        versions.add("orphan000001", "pass", down="nowhere00000")
    elif setup == "latin1":
        (target / "old.py").write_bytes(
            "revision = 'x'\n# caf\xe9\n".encode("latin-1")
        )
    elif setup == "duplicate":
        versions.add("same00000001", "pass", name="one")
        versions.add("same00000001", "pass", name="two")
    else:
        target = target / "nothing"
    with pytest.raises(lint.LintError) as caught:
        lint.lint(target)
    assert expected in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


def test_since_reports_only_the_revisions_after(versions) -> None:
    versions.add("old000000001", "op.drop_table('a')")
    versions.add("old000000002", "op.drop_table('b')", down="old000000001")
    versions.add("new000000003", "op.drop_table('c')", down="old000000002")
    found = versions.findings(since="old000000002")
    assert {f.path.name for f in found} == {"new000000003.py"}
    assert {f.detail for f in found if f.code == "DS102"} == {"c"}
    with pytest.raises(lint.LintError, match="unknown revision"):
        versions.findings(since="nowhere")


def test_odd_files_in_the_folder_are_not_revisions(versions) -> None:
    versions.add("aaa000000001", "op.drop_table('a')")
    (versions.folder / "weird.py").mkdir()
    (versions.folder / "__pycache__").mkdir()
    (versions.folder / "__pycache__" / "x.py").write_text("def upgrade(:\n")
    (versions.folder / "__init__.py").write_text("")
    (versions.folder / "helpers.py").write_text(
        "def shared():\n    return 1\n"
    )
    deep = "revision = 'deep'\ndown_revision = None\nsql = " + " + ".join(
        ["'x'"] * 5000
    )
    (versions.folder / "deep.py").write_text(
        deep + "\n\ndef upgrade():\n    op.execute(sql)\n"
    )
    report = lint.check_paths([versions.folder])
    assert {f.path.name for f in report.findings} == {"aaa000000001.py"}
    assert all(
        len(e.splitlines()) == 1 and "deep.py" in e for e in report.errors
    )


def test_a_project_folder_is_read_through_its_alembic_ini(
    tmp_path, versions
) -> None:
    """``dblab lint .`` in a project: alembic.ini names the script location."""
    script = tmp_path / "db"
    moved = type(versions)(script / "versions")  # a versions folder under db/
    (script / "env.py").write_text("# env\n")
    moved.add("aaa000000001", "op.drop_table('a')")
    (tmp_path / "notes.py").write_text(
        "revision = 'not a revision of the chain'\n"
    )
    (tmp_path / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/db\n"
    )
    found = lint.lint(tmp_path)
    assert {f.path.name for f in found} == {"aaa000000001.py"}
    assert "DS102" in {f.code for f in found}
