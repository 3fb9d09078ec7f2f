"""Checkers of notebook 07: merge, lint fixes and a test on seeded data.

Each checker is fed its solution and plausible wrong answers, the mistake
its lesson is about first: an edited or deleted branch instead of a merge;
a waiver instead of a fix, then a fix that is still one UPDATE over every
row; a test on an empty table, then one with too few rows.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dblab import migrate
from dblab.checks import testing_and_versioning as tv

NOT_DONE = "まだ解答がありません"
USERS = sa.table(
    "users", sa.column("id"), sa.column("name"), sa.column("email")
)


def merge_and_record(box) -> str:
    merge_id = migrate.merge(box, "merge nickname and tags")
    migrate.upgrade(box, "head")
    migrate.write_checksums(box.migrations / "versions")
    return merge_id


def branch_file(box, revision: str):
    return next(box.migrations.glob(f"versions/*-{revision}_*.py"))


def test_merge_solution(server) -> None:
    box = tv.prepare_merge(server)
    try:
        assert NOT_DONE in tv.resolve_heads(box).message
        assert NOT_DONE in tv.resolve_heads(...).message
        merge_id = merge_and_record(box)
        result = tv.resolve_heads(box)
        assert result.ok, result
        assert migrate.current(box) == (merge_id,)
    finally:
        box.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_merge_rejects_an_edited_applied_branch(server) -> None:
    """The lesson's mistake: re-point Bob's revision onto Alice's."""
    box = tv.prepare_merge(server)
    try:
        path = branch_file(box, "b2b2b2b2b2b2")
        path.write_text(
            path.read_text().replace(
                f"down_revision = '{tv.HEAD}'",
                "down_revision = 'a1a1a1a1a1a1'",
            )
        )
        assert len(migrate.heads(box)) == 1
        migrate.upgrade(box, "head")
        result = tv.resolve_heads(box)
        assert not result.ok
        assert "書き換えています" in result.message, result
        assert tv.SECTION_EDITED in result.message
        assert result.section == tv.SECTION_MERGE
        migrate.write_checksums(box.migrations / "versions")  # re-recorded
        result = tv.resolve_heads(box)
        assert not result.ok and "書き換えています" in result.message
    finally:
        box.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_merge_rejects_deleted_unrecorded_and_unapplied(server) -> None:
    box = tv.prepare_merge(server)
    try:
        branch_file(box, "b2b2b2b2b2b2").unlink()
        result = tv.resolve_heads(box)
        assert not result.ok and "消えています" in result.message, result
        assert result.section == tv.SECTION_MERGE
    finally:
        box.close()
    box = tv.prepare_merge(server)
    try:
        merge_id = migrate.merge(box, "merge both")
        result = tv.resolve_heads(box)  # not upgraded yet
        assert not result.ok and "not upgraded" in result.message, result
        migrate.upgrade(box, "head")
        result = tv.resolve_heads(box)  # merge not in versions.sum
        assert not result.ok and "記録されていません" in result.message
        assert result.section == tv.SECTION_EDITED
        assert migrate.current(box) == (merge_id,)
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


SERVER_DEFAULT = tv.revision_source(
    "add users.plan NOT NULL, the server fills existing rows",
    "c6c6c6c6c6c6",
    tv.HEAD,
    'op.add_column(\n        "users",\n        sa.Column("plan", '
    'sa.String(20), nullable=False, server_default="free"),\n    )',
    'with op.batch_alter_table("users") as batch_op:\n'
    '        batch_op.drop_column("plan")',
)
SPLIT_IN_BATCHES = {
    name.replace("nickname", "plan"): text.replace("nickname", "plan")
    .replace("values(plan=users.c.name)", 'values(plan="free")')
    .replace("sa.String(50)", "sa.String(20)")
    for name, text in tv.NICKNAME_FIX.items()
}


def hand_in_lint(box, files: dict) -> object:
    (box.migrations / "versions" / f"{tv.PLAN_NAME}.py").unlink()
    for name, text in files.items():
        tv.write_revision(box, name, text)
    return tv.lint_fixed(box)


def test_lint_solution_passes(server) -> None:
    box = tv.prepare_lint(server)
    try:
        assert NOT_DONE in tv.lint_fixed(box).message
        name = "2024_05_02_1000-c6c6c6c6c6c6_add_users_plan"
        result = hand_in_lint(box, {name: SERVER_DEFAULT})
        assert result.ok, result
    finally:
        box.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_lint_accepts_the_lessons_batched_split(server) -> None:
    box = tv.prepare_lint(server)
    try:
        result = hand_in_lint(box, SPLIT_IN_BATCHES)
        assert result.ok, result
    finally:
        box.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_lint_rejects_a_waiver_and_a_one_shot_backfill(server) -> None:
    box = tv.prepare_lint(server)
    try:  # the lesson's mistake: silence the findings
        waived = tv.PLAN_REVISION.replace(
            "import sqlalchemy",
            "# dblab-lint: ignore[MF103, MF201, MG102, MG201] it works\n"
            "import sqlalchemy",
        )
        result = hand_in_lint(box, {tv.PLAN_NAME: waived})
        assert not result.ok and "waiver" in result.message, result
        assert result.section == tv.SECTION_LINT
    finally:
        box.close()
    box = tv.prepare_lint(server)
    try:  # lint-clean, but one UPDATE over all 250 rows
        one_shot = dict(SPLIT_IN_BATCHES)
        name = next(n for n in one_shot if "fill" in n)
        one_shot[name] = one_shot[name].replace(
            "fill_in_batches()\n",
            "op.execute(\n        users.update()\n"
            "        .where(users.c.plan.is_(None))\n"
            '        .values(plan="free")\n    )\n',
            1,
        )
        result = hand_in_lint(box, one_shot)
        assert not result.ok, result
        assert f"{tv.SEED_USERS} 行を書き換えて" in result.message, result
    finally:
        box.close()


def test_a_waiver_is_ours_or_a_noqa_naming_a_lint_code() -> None:
    assert tv.WAIVER.search(" dblab-lint: ignore[MF201] it is fine")
    assert tv.WAIVER.search(" noqa: MF201")
    assert not tv.WAIVER.search(" noqa: S608 - fixture text")


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_lint_rejects_remaining_findings_and_lost_job(server) -> None:
    box = tv.prepare_lint(server)
    try:  # a server default silences MF103; the UPDATE has no WHERE
        half = tv.PLAN_REVISION.replace(
            "nullable=False)", 'nullable=False, server_default="free")'
        )
        result = hand_in_lint(box, {tv.PLAN_NAME: half})
        assert not result.ok
        assert "指摘が" in result.message and "MF201" in result.message
    finally:
        box.close()
    box = tv.prepare_lint(server)
    try:  # fine on SQLite, but a String without length fails on MariaDB
        name = "2024_05_02_1000-c6c6c6c6c6c6_add_users_plan"
        no_length = SERVER_DEFAULT.replace("sa.String(20)", "sa.String()")
        result = hand_in_lint(box, {name: no_length})
        assert not result.ok and "String(20)" in result.message, result
    finally:
        box.close()
    box = tv.prepare_lint(server)
    try:  # clean and filled, but the column stays nullable
        files = {k: v for k, v in SPLIT_IN_BATCHES.items() if "null" not in k}
        result = hand_in_lint(box, files)
        assert not result.ok
        assert "NULL を許したまま" in result.message, result
    finally:
        box.close()


ROWS = [
    {"id": i, "name": name, "email": email}
    for i, (name, email) in enumerate(
        [
            ("Ada Lovelace", "Ada@Example.COM"),
            ("Grace Hopper", "GRACE@example.com"),
            ("Linus", "linus@example.com"),
            ("Alan Turing", "Alan@Bletchley.UK"),
            ("Edsger", "EWD@utexas.EDU"),
        ],
        1,
    )
]


def seeded(box, rows, *, insert_after: bool = False) -> dict:
    migrate.upgrade(box, tv.HEAD)
    if insert_after:
        migrate.upgrade(box, tv.LOWER_ID)
    with box.engine.begin() as connection:
        if rows:
            connection.execute(USERS.insert(), rows)
    migrate.upgrade(box, tv.LOWER_ID)
    with box.engine.connect() as connection:
        return {
            r.id: (r.name, r.email)
            for r in connection.execute(sa.select(USERS))
        }


def expected(rows) -> dict:
    return {r["id"]: (r["name"], r["email"].lower()) for r in rows}


def good_test(box) -> None:
    assert seeded(box, ROWS) == expected(ROWS)


def test_seeded_test_accepts_a_real_test(server) -> None:
    result = tv.seeded_test(good_test, server)
    assert result.ok, result


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_seeded_test_rejects_weak_and_wrong_tests(server) -> None:
    def empty_table(box):  # the lesson's mistake: no data
        assert seeded(box, []) == {}

    def after_upgrade(box):
        assert seeded(box, ROWS, insert_after=True)

    def too_few_rows(box):
        rows = ROWS[:2]
        assert seeded(box, rows) == expected(rows)

    def emails_only(box):
        found = seeded(box, ROWS)
        assert [e for _, e in found.values()] == [
            r["email"].lower() for r in ROWS
        ]

    def asserts_nothing(box):
        seeded(box, ROWS)

    def never_migrates(box): ...

    def wrong_expectation(box):
        good_test(box)
        raise AssertionError("expected upper case")

    checks = [
        (empty_table, "行がないまま"),
        (after_upgrade, "upgrade の後に入れて"),
        (too_few_rows, "2 バッチ目"),
        (emails_only, "name まで"),
        (asserts_nothing, "何もしない"),
        (wrong_expectation, "正しい revision"),
        ("not a function", "not a function"),
    ]
    for test, says in checks:
        result = tv.seeded_test(test, server)
        assert not result.ok and says in result.message, (test, result)
        assert result.section == tv.SECTION_SEEDED
    assert "何もしない" not in tv.seeded_test(emails_only, server).message
    assert NOT_DONE in tv.seeded_test(never_migrates, server).message


def test_the_lessons_revisions_are_what_the_notebook_says(tmp_path) -> None:
    """The fix and the exercise-3 revision are lint-clean; the two bad
    ones carry the four findings the notebook lists."""
    from dblab import lint

    def codes(text: str) -> list[str]:
        path = tmp_path / "rev.py"
        path.write_text(text, encoding="utf-8")
        return sorted(
            f.code for f in lint.lint(path, disable=lint.PER_DATABASE)
        )

    assert codes(tv.BAD_REVISION) == sorted(tv.BAD_CODES)
    assert codes(tv.PLAN_REVISION) == sorted(tv.BAD_CODES)
    assert codes(tv.LOWER_REVISION) == []
    assert codes(tv.LOWER_REVISION.replace("# dblab-lint: ignore", "#")) == [
        "MG102"
    ]
    for text in tv.NICKNAME_FIX.values():
        assert "MF201" not in codes(text) and "MG102" not in codes(text)
