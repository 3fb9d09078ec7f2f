"""Checkers for notebook 07 (testing and versioning of migrations).

Three exercises, each on its own sandbox with a private ``versions/``:

- :func:`resolve_heads`: two branches after the kit's head; the learner
  adds a merge revision. The checker counts heads, reads the merge's
  ``down_revision`` and upgrades the learner's sandbox to ``head``.
- :func:`lint_fixed`: a revision with the lecture's anti-patterns; the
  learner replaces it with revisions ``dblab lint`` finds nothing in. The
  checker lints them, then runs them up, down and up again on a fresh
  sandbox with data.
- :func:`seeded_test`: the learner writes a test function taking a
  sandbox. It must pass against the given revision and fail against
  deliberately broken copies of it, so a test that asserts nothing is
  rejected.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from dblab import lint, migrate, revisions, sandbox, seed, settings
from dblab.checks import (
    Result,
    checker,
    failed,
    not_done,
    passed,
    revision_source,
    server_of,
    write_revision,
)
from dblab.errors import MigrationError

HEAD = revisions.HEAD
"""The kit's head revision: every exercise starts from it."""

SECTION_MERGE = "07_testing_and_versioning「ブランチとマージ」"
SECTION_LINT = "07_testing_and_versioning「リンター」"
SECTION_SEEDED = "07_testing_and_versioning「データを入れたテスト」"

BRANCHES = {"a1a1a1a1a1a1": "add_users_nickname", "b2b2b2b2b2b2": "add_tags"}
"""The two revisions of the merge exercise, both after HEAD."""

_BRANCH_BODIES = {
    "a1a1a1a1a1a1": (
        "add users.nickname (Alice's branch)",
        'op.add_column("users", sa.Column("nickname", sa.String(50)))',
        'with op.batch_alter_table("users") as batch_op:\n'
        '        batch_op.drop_column("nickname")',
    ),
    "b2b2b2b2b2b2": (
        "create tags (Bob's branch)",
        'op.create_table(\n        "tags",\n'
        '        sa.Column("id", sa.Integer(), primary_key=True),\n'
        '        sa.Column("label", sa.String(30), nullable=False),\n'
        "    )",
        'op.drop_table("tags")',
    ),
}


# --- the scenarios: what each exercise starts from -----------------------

BAD_REVISION = revision_source(
    "add users.nickname, filled from name",
    "c3c3c3c3c3c3",
    HEAD,
    'op.add_column(\n        "users", sa.Column("nickname", sa.String(50), '
    "nullable=False)\n    )\n"
    '    op.execute("UPDATE users SET nickname = name")',
    "pass",
)
"""The revision to fix: NOT NULL without a default, data and schema mixed,
an UPDATE without WHERE, an empty downgrade."""
BAD_NAME = "2024_05_02_0900-c3c3c3c3c3c3_add_users_nickname"
BAD_CODES = ("MF103", "MF201", "MG102", "MG201")
"""What the linter finds in BAD_REVISION (notebook 07 shows them)."""

SEED_USERS = 8
"""Rows in ``users`` while the learner's revisions run."""


LOWER_ID = "d4d4d4d4d4d4"
LOWER_NAME = f"2024_05_03_0900-{LOWER_ID}_lowercase_emails"
_LOWER_PREAMBLE = """
users = sa.table(
    "users", sa.column("id"), sa.column("name"), sa.column("email")
)
"""
_LOWER_DOWN = (
    "pass  # the original case is not kept: lowercasing cannot be undone"
)
LOWER_REVISION = revision_source(
    "lowercase every e-mail address",
    LOWER_ID,
    HEAD,
    "op.execute(\n        users.update()\n"
    "        .values(email=sa.func.lower(users.c.email))\n    )",
    _LOWER_DOWN,
    preamble=_LOWER_PREAMBLE,
)
"""The revision the learner's test is about."""

BROKEN_REVISIONS = {
    "何もしない revision": LOWER_REVISION.replace(
        ".values(email=sa.func.lower(users.c.email))",
        ".values(email=users.c.email)",
    ),
    "name まで小文字にする revision": LOWER_REVISION.replace(
        ".values(email=sa.func.lower(users.c.email))",
        ".values(\n            email=sa.func.lower(users.c.email),\n"
        "            name=sa.func.lower(users.c.name),\n        )",
    ),
}
"""Deliberately broken copies a good test must catch."""


def prepare_merge(server: URL | None = None) -> sandbox.Sandbox:
    """A sandbox at the kit's head with two branches after it (two heads)."""
    box = sandbox.create("merge_exercise", server=server, migrations=True)
    migrate.upgrade(box, "head")
    for revision, slug in BRANCHES.items():
        message, up, down = _BRANCH_BODIES[revision]
        write_revision(
            box,
            f"2024_05_01_0900-{revision}_{slug}",
            revision_source(message, revision, HEAD, up, down),
        )
    return box


def prepare_lint(server: URL | None = None) -> sandbox.Sandbox:
    """A sandbox at the kit's head with the bad revision in ``versions/``."""
    box = sandbox.create("lint_exercise", server=server, migrations=True)
    migrate.upgrade(box, HEAD)
    write_revision(box, BAD_NAME, BAD_REVISION)
    return box


def prepare_seeded(
    server: URL | None = None, source: str = LOWER_REVISION
) -> sandbox.Sandbox:
    """An empty sandbox whose ``versions/`` ends with the lowercase revision.

    The learner's test migrates it (to HEAD, then to LOWER_ID) itself.
    """
    box = sandbox.create("seeded_test", server=server, migrations=True)
    write_revision(box, LOWER_NAME, source)
    return box


# --- the checkers ---------------------------------------------------------


def _new_files(folder: Path) -> list[Path]:
    """The revision files of ``folder`` that are not the kit's."""
    kit = {p.name for p in (settings.MIGRATIONS / "versions").glob("*.py")}
    return sorted(
        p
        for p in folder.glob("*.py")
        if p.name not in kit and p.name != "__init__.py"
    )


def _users(engine: sa.Engine) -> tuple[dict[int, tuple], dict[str, dict]]:
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns("users")}
    table = sa.table("users", *(sa.column(name) for name in columns))
    with engine.connect() as connection:
        rows = connection.execute(sa.select(table)).mappings().all()
    return {r["id"]: dict(r) for r in rows}, columns


@checker(SECTION_MERGE)
def resolve_heads(exercise: sandbox.Sandbox) -> Result:
    """One head, a merge of both branches, and ``upgrade head`` works."""
    heads = migrate.heads(exercise)
    present = {r.revision for r in migrate.revisions(exercise)}
    missing = [rev for rev in BRANCHES if rev not in present]
    if missing:
        return failed(
            f"ブランチの revision {', '.join(missing)} が versions/ から"
            "消えています (branch revision deleted)。他の人の revision は"
            "消さずに、マージ revision でまとめてください。",
            SECTION_MERGE,
        )
    if len(heads) > 1:
        if set(heads) == set(BRANCHES):
            return not_done(SECTION_MERGE)
        return failed(
            f"head がまだ {len(heads)} つあります (multiple heads): "
            f"{', '.join(sorted(heads))}。`migrate.merge` で 1 つに"
            "まとめてください。",
            SECTION_MERGE,
        )
    head = migrate.script(migrate.config(exercise)).get_revision(heads[0])
    down = head.down_revision
    parents = {down} if isinstance(down, str) else set(down or ())
    if not set(BRANCHES) <= parents:
        return failed(
            f"head {heads[0]} の down_revision {down!r} に 2 つの "
            f"ブランチ ({', '.join(BRANCHES)}) の両方が入っていません "
            "(not a merge of both heads)。",
            SECTION_MERGE,
        )
    try:
        now = migrate.upgrade(exercise, "head")
    except MigrationError as error:
        return failed(
            f"マージ後の upgrade head が失敗しました: {error}",
            SECTION_MERGE,
        )
    if now != (head.revision,):
        return failed(
            f"upgrade head の後の revision が {now} です (expected "
            f"{head.revision})。",
            SECTION_MERGE,
        )
    tables = set(sa.inspect(exercise.engine).get_table_names())
    columns = {
        c["name"] for c in sa.inspect(exercise.engine).get_columns("users")
    }
    if "tags" not in tables or "nickname" not in columns:
        return failed(
            "upgrade head の後に tags テーブルか users.nickname が"
            "ありません (a branch was not applied)。",
            SECTION_MERGE,
        )
    return passed(
        "head は 1 つになり、マージ revision が両方のブランチをまとめて"
        "います。",
        f"head: {head.revision} ← {', '.join(sorted(parents))}",
        "upgrade head で tags と users.nickname の両方ができました",
    )


@checker(SECTION_LINT)
def lint_fixed(exercise: sandbox.Sandbox) -> Result:
    """No findings, and the revisions still add a filled NOT NULL column."""
    files = _new_files(exercise.migrations / "versions")
    if not files:
        return failed(
            "versions/ にキットのもの以外の revision がありません "
            "(no revision to check)。",
            SECTION_LINT,
        )
    try:  # the whole chain is read; only the learner's files are judged
        # The lesson's rules; the per-database lock rules are 08's subject.
        found = lint.lint(
            exercise.migrations / "versions", disable=lint.PER_DATABASE
        )
    except lint.LintError as error:
        return failed(str(error), SECTION_LINT)
    mine = {p.name for p in files}
    findings = [f for f in found if Path(f.path).name in mine]
    if findings:
        codes = sorted({f.code for f in findings})
        if mine == {f"{BAD_NAME}.py"} and set(BAD_CODES) <= set(codes):
            return not_done(SECTION_LINT)
        return failed(
            f"リンターの指摘が {len(findings)} 件残っています "
            f"({', '.join(codes)})。",
            SECTION_LINT,
            *(
                f"{Path(f.path).name}:{f.line}: {f.code} {f.message}"
                for f in findings
            ),
        )
    with sandbox.create(
        "lint_check", server=server_of(exercise), migrations=True
    ) as box:
        versions = box.migrations / "versions"
        for path in _new_files(versions):
            path.unlink()
        migrate.upgrade(box, HEAD)
        seed.users(box.engine, SEED_USERS)
        before, _ = _users(box.engine)
        for path in files:
            shutil.copy(path, versions)
        return _run_lint_job(box, before)


def _run_lint_job(box: sandbox.Sandbox, before: dict) -> Result:
    try:
        migrate.upgrade(box, "head")
    except MigrationError as error:
        return failed(
            f"データの入ったデータベースで upgrade が失敗しました: {error}",
            SECTION_LINT,
        )
    rows, columns = _users(box.engine)
    if "nickname" not in columns:
        return failed(
            "upgrade の後に users.nickname 列がありません (column missing)。",
            SECTION_LINT,
        )
    if columns["nickname"]["nullable"]:
        return failed(
            "users.nickname が NULL を許したままです (still nullable)。"
            "最後に NOT NULL にしてください。",
            SECTION_LINT,
        )
    wrong = [i for i, row in rows.items() if row["nickname"] != row["name"]]
    if len(rows) != len(before) or wrong:
        return failed(
            "既存の行の nickname が name で埋まっていません "
            f"(e.g. id={wrong[0] if wrong else '?'})。",
            SECTION_LINT,
        )
    try:
        migrate.downgrade(box, HEAD)
    except MigrationError as error:
        return failed(
            f"downgrade が失敗しました (downgrade failed): {error}",
            SECTION_LINT,
        )
    rows, columns = _users(box.engine)
    if "nickname" in columns:
        return failed(
            "downgrade の後も users.nickname が残っています "
            "(downgrade did not undo the change)。",
            SECTION_LINT,
        )
    if rows != before:
        return failed(
            "downgrade の後に users の行が変わりました (rows changed)。",
            SECTION_LINT,
        )
    try:
        migrate.upgrade(box, "head")
    except MigrationError as error:
        return failed(
            f"downgrade の後の再 upgrade が失敗しました: {error}",
            SECTION_LINT,
        )
    return passed(
        "リンターの指摘はなく、データの入ったデータベースで upgrade / "
        "downgrade / upgrade が通りました。",
        f"{len(before)} 行の nickname が name で埋まり、NOT NULL になりました",
    )


def _outcome(
    test: Callable[[sandbox.Sandbox], object], server: URL, source: str
) -> tuple[BaseException | None, tuple[str, ...]]:
    """Run ``test`` on a fresh sandbox with ``source`` as the revision.

    Returns the error the test raised (None if it passed) and the
    revision(s) the sandbox was left at.
    """
    with prepare_seeded(server, source) as box:
        try:
            test(box)
        except Exception as error:  # the learner's test failed
            return error, migrate.current(box)
        return None, migrate.current(box)


@checker(SECTION_SEEDED)
def seeded_test(
    test: Callable[[sandbox.Sandbox], object], server: URL | None = None
) -> Result:
    """Passes on the right revision, fails on every broken copy."""
    if not callable(test):
        return failed(
            "テスト関数 (sandbox を 1 つ受け取る関数) を渡してください "
            "(not a function)。",
            SECTION_SEEDED,
        )
    server = server or settings.database_url()
    error, now = _outcome(test, server, LOWER_REVISION)
    if error is not None:
        first = (str(error).strip().splitlines() or [""])[0]
        return failed(
            "正しい revision に対してテストが失敗しました "
            f"(test fails on the correct revision): "
            f"{type(error).__name__}: {first}",
            SECTION_SEEDED,
        )
    if not now:
        return not_done(SECTION_SEEDED)
    if now != (LOWER_ID,):
        return failed(
            f"テストの後、サンドボックスは revision {', '.join(now)} です。"
            f"テストの中で {LOWER_ID} まで upgrade してください "
            "(the test never ran the revision)。",
            SECTION_SEEDED,
        )
    missed = [
        name
        for name, source in BROKEN_REVISIONS.items()
        if _outcome(test, server, source)[0] is None
    ]
    if missed:
        return failed(
            f"壊した revision ({'、'.join(missed)}) でもテストが通って"
            "しまいました (the test does not catch a broken revision)。"
            "移行後の行を assert で確かめてください。",
            SECTION_SEEDED,
        )
    return passed(
        "正しい revision では通り、壊した revision "
        f"{len(BROKEN_REVISIONS)} つではすべて失敗しました。",
        *(f"見つけた: {name}" for name in BROKEN_REVISIONS),
    )
