"""Checkers of notebook 05: the solutions pass, broken revisions do not.

Exercise 1 (users.status) is tried with the lesson's mistakes first -- a
downgrade that does not undo, a String without a length (fine on SQLite,
fails on MariaDB) -- then a NOT NULL without default, a wrong length, a
revision that changes more than the column. Exercise 2 (the rename) with
autogenerate's output accepted as it is, the lesson's cell copied with
``age``'s type, a downgrade left as generated, and one that does nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy.engine import URL

from dblab import migrate, sandbox, seed, settings
from dblab.checks import alembic_first_steps as checks

# Wrong answers run on SQLite (the checker needs no server to catch them:
# MariaDB's failures are caught from its offline SQL); the solutions and
# the answers whose outcome differs by database run on every backend.
ON_SQLITE = pytest.mark.parametrize(
    "module_server", [URL.create("sqlite")], ids=["sqlite"], scope="module"
)

GOOD_UP = """
    op.add_column(
        "users",
        sa.Column(
            "status",
            sa.String(length=20),
            nullable=False,
            server_default="active",
        ),
    )
"""
GOOD_DOWN = """
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("status")
"""
NO_DEFAULT_UP = """
    op.add_column(
        "users",
        sa.Column("status", sa.String(length=20), nullable=False),
    )
"""
NULLABLE_UP = """
    op.add_column(
        "users", sa.Column("status", sa.String(length=20), nullable=True)
    )
"""
NO_LENGTH_UP = GOOD_UP.replace("sa.String(length=20)", "sa.String()")
LONG_UP = GOOD_UP.replace("length=20", "length=200")
INDEXED_UP = (
    GOOD_UP
    + """
    op.create_index("ix_users_name", "users", ["name"])
"""
)
RAISING_DOWN = """
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("state")
"""


def write(path, up: str, down: str) -> None:
    """Replace the bodies of upgrade() and downgrade() in ``path``."""
    text = path.read_text(encoding="utf-8")
    head, _, _ = text.partition("def upgrade() -> None:")
    path.write_text(
        f"{head}def upgrade() -> None:{up}\n\ndef downgrade() -> None:{down}",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def exercise(module_server):
    box = sandbox.create(
        "test_alembic_first_steps", server=module_server, migrations=True
    )
    migrate.upgrade(box, "head")
    seed.users(box.engine, settings.scaled(200, 30))
    yield box
    box.close()


@pytest.fixture
def revision(exercise):
    path = checks.new_revision(exercise)
    yield path
    path.unlink(missing_ok=True)


def test_solution_passes_and_leaves_the_sandbox_alone(
    exercise, revision
) -> None:
    before = migrate.current(exercise)
    write(revision, GOOD_UP, GOOD_DOWN)
    result = checks.status_column(exercise)
    assert result.ok, result
    assert migrate.current(exercise) == before
    leftovers = list(
        (settings.work_dir() / "sandboxes").glob("dblab_alembic_first_*check*")
    )
    assert not leftovers


@ON_SQLITE
def test_no_file_yet(exercise) -> None:
    result = checks.status_column(exercise)
    assert not result.ok
    assert "まだ revision ファイルがありません" in result.message


@ON_SQLITE
def test_empty_downgrade_is_caught(exercise, revision) -> None:
    write(revision, GOOD_UP, "\n    pass\n")
    result = checks.status_column(exercise)
    assert not result.ok
    assert "downgrade の後も users.status 列が残っています" in result.message
    assert "05_alembic_first_steps" in result.section


@ON_SQLITE
def test_string_without_length_is_caught_on_any_database(
    exercise, revision
) -> None:
    write(revision, NO_LENGTH_UP, GOOD_DOWN)
    result = checks.status_column(exercise)
    assert not result.ok
    assert "長さのない文字列" in result.message, result
    assert "MariaDB" in result.message
    assert result.section == checks.SECTION


@ON_SQLITE
def test_wrong_length_is_caught(exercise, revision) -> None:
    write(revision, LONG_UP, GOOD_DOWN)
    result = checks.status_column(exercise)
    assert not result.ok
    assert "長さが 200 です" in result.message, result


@ON_SQLITE
def test_a_second_change_in_the_revision_is_caught(exercise, revision) -> None:
    write(revision, INDEXED_UP, GOOD_DOWN)
    result = checks.status_column(exercise)
    assert not result.ok
    assert "one change per revision" in result.message, result
    assert "ix_users_name" in result.message


@ON_SQLITE
def test_downgrade_that_takes_more_than_it_added(exercise, revision) -> None:
    down = GOOD_DOWN + '        batch_op.drop_column("age")\n'
    write(revision, GOOD_UP, down)
    result = checks.status_column(exercise)
    assert not result.ok
    assert "upgrade の前と形が違います" in result.message, result
    assert "users.age" in result.message


@ON_SQLITE
def test_downgrade_that_raises_is_caught(exercise, revision) -> None:
    write(revision, GOOD_UP, RAISING_DOWN)
    result = checks.status_column(exercise)
    assert not result.ok
    assert "downgrade が失敗しました" in result.message
    assert revision.name in result.message


def test_not_null_without_default_on_rows(exercise, revision) -> None:
    write(revision, NO_DEFAULT_UP, GOOD_DOWN)
    result = checks.status_column(exercise)
    assert not result.ok
    if exercise.backend == "mysql":
        # MariaDB fills the existing rows with '' instead of failing.
        assert "server default" in result.message
    else:
        assert "upgrade が失敗しました" in result.message
    # The learner's sandbox is untouched and still migrates.
    assert migrate.current(exercise) == (checks.kit_head(),)


@ON_SQLITE
def test_missing_default_is_caught(exercise, revision) -> None:
    write(revision, NULLABLE_UP, GOOD_DOWN)
    result = checks.status_column(exercise)
    assert not result.ok
    assert "NULL を許しています" in result.message


@ON_SQLITE
def test_syntax_error_names_the_file(exercise, revision) -> None:
    write(revision, "\n    op.add_column('users',\n", GOOD_DOWN)
    result = checks.status_column(exercise)
    assert not result.ok
    assert "文法エラー" in result.message
    assert revision.name in result.message
    assert result.section == checks.SECTION_FILE


@ON_SQLITE
def test_down_revision_pointing_nowhere(exercise, revision) -> None:
    write(revision, GOOD_UP, GOOD_DOWN)
    text = revision.read_text(encoding="utf-8")
    head = checks.kit_head()
    revision.write_text(text.replace(repr(head), "'0123456789ab'"))
    result = checks.status_column(exercise)
    assert not result.ok
    assert "どの revision も指していません" in result.message
    assert revision.name in result.message
    assert head in result.message


@ON_SQLITE
def test_two_files_are_one_too_many(exercise, revision) -> None:
    second = checks.new_revision(exercise, "another")
    try:
        result = checks.status_column(exercise)
    finally:
        second.unlink()
    assert not result.ok
    assert "2 個あります" in result.message


def test_stub() -> None:
    result = checks.status_column(...)
    assert not result.ok
    assert "まだ解答がありません" in result.message


# Exercise 2: the autogenerated rename.

RENAME_UP = """
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column(
            "name",
            new_column_name="full_name",
            existing_type=sa.String(50),
            existing_nullable=False,
        )
"""
RENAME_DOWN = """
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column(
            "full_name",
            new_column_name="name",
            existing_type=sa.String(50),
            existing_nullable=False,
        )
"""
GENERATED_DOWN = """
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("name", sa.VARCHAR(length=50), nullable=False)
        )
        batch_op.drop_column("full_name")
"""


@pytest.fixture(scope="module")
def renaming(module_server):
    box = checks.prepare_rename(server=module_server)
    path = checks.rename_file(box)
    generated = path.read_text(encoding="utf-8")
    yield box, path, generated
    box.close()


def test_rename_solution_passes(renaming) -> None:
    box, path, _ = renaming
    write(path, RENAME_UP, RENAME_DOWN)
    result = checks.rename_column(box)
    assert result.ok, result
    assert migrate.current(box) == (checks.kit_head(),)


@ON_SQLITE
def test_autogenerate_accepted_as_it_is(renaming) -> None:
    box, path, generated = renaming
    path.write_text(generated, encoding="utf-8")
    result = checks.rename_column(box)
    assert not result.ok
    assert "autogenerate の出力をそのまま" in result.message, result
    assert result.section == checks.SECTION_AUTO


@ON_SQLITE
def test_lesson_cell_copied_with_the_type_of_age(renaming) -> None:
    box, path, _ = renaming
    copied = (RENAME_UP, RENAME_DOWN)
    write(
        path,
        *(
            text.replace("sa.String(50)", "sa.Integer()").replace(
                "existing_nullable=False", "existing_nullable=True"
            )
            for text in copied
        ),
    )
    result = checks.rename_column(box)
    assert not result.ok
    assert "CHANGE name full_name INTEGER NULL" in result.message, result
    assert "existing_type=sa.String(50)" in result.message


@ON_SQLITE
def test_missing_existing_type_fails_on_mariadb(renaming) -> None:
    box, path, _ = renaming
    bare = "existing_type=sa.String(50),\n            "
    write(path, RENAME_UP.replace(bare, ""), RENAME_DOWN.replace(bare, ""))
    result = checks.rename_column(box)
    assert not result.ok
    assert "MariaDB 向けの SQL が作れません" in result.message, result
    assert "existing type" in result.message


@ON_SQLITE
def test_missing_existing_nullable_makes_it_nullable_on_mariadb(
    renaming,
) -> None:
    box, path, _ = renaming
    bare = "\n            existing_nullable=False,"
    write(path, RENAME_UP.replace(bare, ""), RENAME_DOWN.replace(bare, ""))
    result = checks.rename_column(box)
    assert not result.ok
    assert "CHANGE name full_name VARCHAR(50) NULL" in result.message, result


@ON_SQLITE
def test_add_copy_drop_keeps_the_names_and_passes(renaming) -> None:
    """Not the lesson's way, but nothing is lost: not autogenerate's."""
    box, path, _ = renaming
    up = """
    users = sa.table("users", sa.column("name"), sa.column("full_name"))
    op.add_column("users", sa.Column("full_name", sa.String(50)))
    op.execute(users.update().values(full_name=users.c.name))
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column(
            "full_name", existing_type=sa.String(50), nullable=False
        )
        batch_op.drop_column("name")
"""
    write(path, up, RENAME_DOWN)
    result = checks.rename_column(box)
    assert result.ok, result


def test_generated_downgrade_kept(renaming) -> None:
    box, path, _ = renaming
    write(path, RENAME_UP, GENERATED_DOWN)
    result = checks.rename_column(box)
    assert not result.ok
    if box.backend == "mysql":  # MariaDB fills '' and loses the names
        assert "downgrade で name の値が失われた" in result.message, result
    else:
        assert "downgrade が失敗しました" in result.message, result
        assert "autogenerate のまま" in result.message


@ON_SQLITE
def test_downgrade_that_does_nothing(renaming) -> None:
    box, path, _ = renaming
    write(path, RENAME_UP, "\n    pass\n")
    result = checks.rename_column(box)
    assert not result.ok
    assert "downgrade does not undo" in result.message, result
    assert "users.full_name" in result.message


@ON_SQLITE
def test_rename_stub_and_missing_file(renaming, exercise) -> None:
    assert "まだ解答がありません" in checks.rename_column(...).message
    result = checks.rename_column(exercise)  # no file there
    assert "まだ revision ファイルがありません" in result.message
