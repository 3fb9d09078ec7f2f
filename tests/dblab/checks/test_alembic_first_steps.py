"""Checker of notebook 05: the solution passes, broken revisions do not."""

from __future__ import annotations

import pytest

from dblab import migrate, sandbox, seed, settings
from dblab.checks import alembic_first_steps as checks

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


def test_no_file_yet(exercise) -> None:
    result = checks.status_column(exercise)
    assert not result.ok
    assert "まだ revision ファイルがありません" in result.message


def test_empty_downgrade_is_caught(exercise, revision) -> None:
    write(revision, GOOD_UP, "\n    pass\n")
    result = checks.status_column(exercise)
    assert not result.ok
    assert "downgrade の後も users.status 列が残っています" in result.message
    assert "05_alembic_first_steps" in result.section


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


def test_missing_default_is_caught(exercise, revision) -> None:
    write(revision, NULLABLE_UP, GOOD_DOWN)
    result = checks.status_column(exercise)
    assert not result.ok
    assert "NULL を許しています" in result.message


def test_syntax_error_names_the_file(exercise, revision) -> None:
    write(revision, "\n    op.add_column('users',\n", GOOD_DOWN)
    result = checks.status_column(exercise)
    assert not result.ok
    assert "文法エラー" in result.message
    assert revision.name in result.message
    assert result.section == checks.SECTION_FILE


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
