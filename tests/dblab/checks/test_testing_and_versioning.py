"""Checkers of notebook 07: merge, lint fixes and a test on seeded data.

Each checker is fed its solution and plausible wrong answers: a deleted
branch instead of a merge, a merge of one head only, a lint "fix" that
keeps a finding or loses the job, a test that asserts nothing or only
half of what changed.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dblab import migrate
from dblab.checks import testing_and_versioning as tv

FIXED = {
    "2024_05_02_0900-e1e1e1e1e1e1_add": tv.revision_source(
        "add nickname",
        "e1e1e1e1e1e1",
        tv.HEAD,
        'op.add_column("users", sa.Column("nickname", sa.String(50)))',
        'with op.batch_alter_table("users") as batch_op:\n'
        '        batch_op.drop_column("nickname")',
    ),
    "2024_05_02_0910-e2e2e2e2e2e2_fill": tv.revision_source(
        "fill nickname",
        "e2e2e2e2e2e2",
        "e1e1e1e1e1e1",
        "op.execute(users.update().where(users.c.nickname.is_(None))"
        ".values(nickname=users.c.name))",
        "op.execute(users.update().where(users.c.nickname.is_not(None))"
        ".values(nickname=None))",
        preamble='\nusers = sa.table("users", sa.column("name"), '
        'sa.column("nickname"))',
    ),
    "2024_05_02_0920-e3e3e3e3e3e3_not_null": tv.revision_source(
        "nickname not null",
        "e3e3e3e3e3e3",
        "e2e2e2e2e2e2",
        'with op.batch_alter_table("users") as batch_op:\n'
        '        batch_op.alter_column("nickname", '
        "existing_type=sa.String(50), nullable=False)",
        'with op.batch_alter_table("users") as batch_op:\n'
        '        batch_op.alter_column("nickname", '
        "existing_type=sa.String(50), nullable=True)",
    ),
}

USERS = sa.table(
    "users", sa.column("id"), sa.column("name"), sa.column("email")
)


def hand_in_lint(box, files: dict) -> object:
    (box.migrations / "versions" / f"{tv.BAD_NAME}.py").unlink()
    for name, text in files.items():
        tv.write_revision(box, name, text)
    return tv.lint_fixed(box)


def test_merge_solution_and_wrong_answers(server) -> None:
    box = tv.prepare_merge(server)
    try:
        assert "まだ解答がありません" in tv.resolve_heads(box).message
        assert "まだ解答がありません" in tv.resolve_heads(...).message
        merge_id = migrate.merge(box, "merge both")
        result = tv.resolve_heads(box)
        assert result.ok, result
        assert migrate.current(box) == (merge_id,)
    finally:
        box.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_merge_rejects_a_deleted_branch(server) -> None:
    box = tv.prepare_merge(server)
    try:
        next(box.migrations.glob("versions/*-b2b2b2b2b2b2_*.py")).unlink()
        result = tv.resolve_heads(box)
        assert not result.ok
        assert "消えています" in result.message, result
        assert "07_testing_and_versioning" in result.section
    finally:
        box.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_merge_rejects_a_revision_on_one_branch(server) -> None:
    box = tv.prepare_merge(server)
    try:
        tv.write_revision(
            box,
            "2024_05_01_1000-c0c0c0c0c0c0_more",
            tv.revision_source(
                "more", "c0c0c0c0c0c0", "a1a1a1a1a1a1", "pass", "pass"
            ),
        )
        result = tv.resolve_heads(box)
        assert not result.ok
        assert "head がまだ 2 つ" in result.message, result
    finally:
        box.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_merge_rejects_a_relinked_branch(server) -> None:
    """Re-pointing one branch onto the other gives one head, no merge."""
    box = tv.prepare_merge(server)
    try:
        path = next(box.migrations.glob("versions/*-b2b2b2b2b2b2_*.py"))
        path.write_text(
            path.read_text().replace(
                f"down_revision = '{tv.HEAD}'",
                "down_revision = 'a1a1a1a1a1a1'",
            )
        )
        assert len(migrate.heads(box)) == 1
        result = tv.resolve_heads(box)
        assert not result.ok
        assert "not a merge" in result.message, result
    finally:
        box.close()


def test_lint_solution_passes(server) -> None:
    box = tv.prepare_lint(server)
    try:
        assert "まだ解答がありません" in tv.lint_fixed(box).message
        result = hand_in_lint(box, FIXED)
        assert result.ok, result
    finally:
        box.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_lint_rejects_remaining_findings_and_lost_job(server) -> None:
    box = tv.prepare_lint(server)
    try:
        # A server default silences MF103 but the UPDATE has no WHERE.
        half = tv.BAD_REVISION.replace(
            "nullable=False)", 'nullable=False, server_default="")'
        )
        result = hand_in_lint(box, {tv.BAD_NAME: half})
        assert not result.ok
        assert "指摘が" in result.message and "MF201" in result.message
    finally:
        box.close()
    box = tv.prepare_lint(server)
    try:
        # Clean for the linter, but nickname is never filled.
        files = {k: v for k, v in FIXED.items() if "fill" not in k}
        files["2024_05_02_0920-e3e3e3e3e3e3_not_null"] = files[
            "2024_05_02_0920-e3e3e3e3e3e3_not_null"
        ].replace("'e2e2e2e2e2e2'", "'e1e1e1e1e1e1'")
        result = hand_in_lint(box, files)
        assert not result.ok
        assert "MF104" in result.message or "upgrade" in result.message
    finally:
        box.close()
    box = tv.prepare_lint(server)
    try:
        # Clean, filled, but the column stays nullable.
        files = {k: v for k, v in FIXED.items() if "not_null" not in k}
        result = hand_in_lint(box, files)
        assert not result.ok
        assert "NULL を許したまま" in result.message, result
    finally:
        box.close()


def good_test(box) -> None:
    migrate.upgrade(box, tv.HEAD)
    rows = [
        {"id": 1, "name": "Ada Lovelace", "email": "Ada@Example.COM"},
        {"id": 2, "name": "Linus", "email": "linus@example.com"},
    ]
    with box.engine.begin() as connection:
        connection.execute(USERS.insert(), rows)
    migrate.upgrade(box, tv.LOWER_ID)
    with box.engine.connect() as connection:
        found = {
            r.id: (r.name, r.email)
            for r in connection.execute(sa.select(USERS))
        }
    assert found == {
        1: ("Ada Lovelace", "ada@example.com"),
        2: ("Linus", "linus@example.com"),
    }, found


def emails_only_test(box) -> None:
    migrate.upgrade(box, tv.HEAD)
    with box.engine.begin() as connection:
        connection.execute(
            USERS.insert(), [{"id": 1, "name": "Ada", "email": "A@X.IO"}]
        )
    migrate.upgrade(box, tv.LOWER_ID)
    with box.engine.connect() as connection:
        emails = connection.execute(sa.select(USERS.c.email)).scalars()
        assert list(emails) == ["a@x.io"]


def test_seeded_test_accepts_a_real_test(server) -> None:
    result = tv.seeded_test(good_test, server)
    assert result.ok, result


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_seeded_test_rejects_weak_and_wrong_tests(server) -> None:
    def asserts_nothing(box):
        migrate.upgrade(box, "head")

    def never_migrates(box): ...

    def wrong_expectation(box):
        good_test(box)
        raise AssertionError("expected upper case")

    result = tv.seeded_test(asserts_nothing, server)
    assert not result.ok and "何もしない" in result.message, result
    result = tv.seeded_test(emails_only_test, server)
    assert not result.ok and "name まで" in result.message, result
    assert "何もしない" not in result.message
    result = tv.seeded_test(wrong_expectation, server)
    assert not result.ok and "正しい revision" in result.message, result
    result = tv.seeded_test(never_migrates, server)
    assert "まだ解答がありません" in result.message
    result = tv.seeded_test("not a function", server)
    assert not result.ok and "not a function" in result.message
