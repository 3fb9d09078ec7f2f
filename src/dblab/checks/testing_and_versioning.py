"""Checkers for notebook 07 (testing and versioning of migrations).

Each exercise has its own sandbox with a private ``versions/`` (revision
texts and ``prepare_*``: :mod:`.testing_and_versioning_scenarios`):

- :func:`resolve_heads`: two recorded branches, one applied here; the
  learner merges and records. Checked: checksums (an edited or deleted
  branch is the mistake), the merge's parents, this database, a replay.
- :func:`lint_fixed`: no finding and no waiver; run up, down, up on 250
  users, counting the rows each UPDATE touches.
- :func:`seeded_test`: the learner's test must pass on the revision and
  fail on broken copies (empty table, too few rows, nothing asserted).
"""

from __future__ import annotations

import re
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
from dblab.checks.testing_and_versioning_scenarios import (
    APPLIED_BRANCH,
    BAD_CODES,
    BAD_NAME,
    BAD_REVISION,
    BRANCH_FILES,
    BRANCHES,
    BROKEN_REVISIONS,
    LOWER_BATCH,
    LOWER_ID,
    LOWER_REVISION,
    NICKNAME_FIX,
    PLAN_DEFAULT,
    PLAN_LENGTH,
    PLAN_NAME,
    PLAN_REVISION,
    outcome,
    prepare_lint,
    prepare_merge,
    prepare_seeded,
    update_sizes,
)
from dblab.errors import MigrationError

__all__ = [
    "BAD_CODES",
    "BAD_NAME",
    "BAD_REVISION",
    "BROKEN_REVISIONS",
    "LOWER_BATCH",
    "LOWER_ID",
    "LOWER_REVISION",
    "NICKNAME_FIX",
    "PLAN_NAME",
    "PLAN_REVISION",
    "prepare_lint",
    "prepare_merge",
    "prepare_seeded",
    "revision_source",
    "write_revision",
]

HEAD = revisions.HEAD
"""The kit's head revision: every exercise starts from it."""

SECTION_MERGE = "07_testing_and_versioning「ブランチとマージ」"
SECTION_EDITED = (
    "07_testing_and_versioning「適用済み revision の編集を見つける」"
)
SECTION_LINT = "07_testing_and_versioning「リンター」"
SECTION_SEEDED = "07_testing_and_versioning「データを入れたテスト」"

SEED_USERS = 250
"""Rows in ``users`` while the learner's lint fix runs."""
MAX_BATCH = 100
"""The most rows one UPDATE of the lint fix may touch."""
WAIVER = re.compile(
    rf"dblab-lint:\s*ignore|noqa\b.*\b(?:{'|'.join(lint.RULES)})\b"
)
"""A comment that silences a finding (ours, or ``noqa: MF201``)."""


# --- the checkers ---------------------------------------------------------


def _new_files(folder: Path) -> list[Path]:
    """The revision files of ``folder`` that are not the kit's."""
    kit = {p.name for p in (settings.MIGRATIONS / "versions").glob("*.py")}
    return sorted(
        p
        for p in folder.glob("*.py")
        if p.name not in kit and p.name != "__init__.py"
    )


def _users(engine: sa.Engine) -> tuple[dict[int, dict], dict[str, dict]]:
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns("users")}
    table = sa.table("users", *(sa.column(name) for name in columns))
    with engine.connect() as connection:
        rows = connection.execute(sa.select(table)).mappings().all()
    return {r["id"]: dict(r) for r in rows}, columns


def _branch_edits(exercise: sandbox.Sandbox) -> Result | None:
    """The mistake: a recorded or branch revision deleted or edited."""
    versions = exercise.migrations / "versions"
    touched = [
        p
        for p in migrate.verify_checksums(versions)
        if "not recorded" not in p
    ]
    for name, text in BRANCH_FILES.values():
        path = versions / f"{name}.py"
        if path.exists() and path.read_text(encoding="utf-8") != text:
            touched.append(f"edited: {path.name}")
    if any("removed" in p for p in touched):
        return failed(
            "ブランチの revision が versions/ から消えています (branch "
            "revision deleted)。適用済みのデータベースがある revision は"
            "消さずに、マージ revision でまとめてください。",
            SECTION_MERGE,
            *touched,
        )
    if touched:
        return failed(
            "適用済みの revision を書き換えています (edited an applied "
            "revision: down_revision の付け替えなど)。適用した"
            "データベースと食い違うので、ファイルは元に戻し、マージ "
            f"revision を足してください。{SECTION_EDITED} も参照。",
            SECTION_MERGE,
            *sorted(set(touched)),
        )
    return None


def _merge_head(exercise: sandbox.Sandbox) -> tuple[str | None, Result | None]:
    heads = migrate.heads(exercise)
    if len(heads) > 1:
        if set(heads) == set(BRANCHES):
            return None, not_done(SECTION_MERGE)
        return None, failed(
            f"head がまだ {len(heads)} つあります (multiple heads): "
            f"{', '.join(sorted(heads))}。`migrate.merge` で 1 つに"
            "まとめてください。",
            SECTION_MERGE,
        )
    head = migrate.script(migrate.config(exercise)).get_revision(heads[0])
    down = head.down_revision
    parents = {down} if isinstance(down, str) else set(down or ())
    if not set(BRANCHES) <= parents:
        return None, failed(
            f"head {heads[0]} の down_revision {down!r} に 2 つの "
            f"ブランチ ({', '.join(BRANCHES)}) の両方が入っていません "
            "(not a merge of both heads)。",
            SECTION_MERGE,
        )
    return head.revision, None


def _both_branches(engine: sa.Engine) -> bool:
    tables = set(sa.inspect(engine).get_table_names())
    columns = {c["name"] for c in sa.inspect(engine).get_columns("users")}
    return "tags" in tables and "nickname" in columns


@checker(SECTION_MERGE)
def resolve_heads(exercise: sandbox.Sandbox) -> Result:
    """Branch files untouched, one merge head, applied here and replayable
    from base; the merge recorded in ``versions.sum``."""
    mistake = _branch_edits(exercise)
    if mistake is not None:
        return mistake
    head, mistake = _merge_head(exercise)
    if mistake is not None:
        return mistake
    now = migrate.current(exercise)
    if now != (head,):
        return failed(
            f"データベースはまだ {', '.join(now) or 'base'} です (not "
            f"upgraded)。`upgrade head` で {head} まで進めてください。",
            SECTION_MERGE,
        )
    if not _both_branches(exercise.engine):
        return failed(
            "upgrade head の後に tags テーブルか users.nickname が"
            "ありません (a branch was not applied)。",
            SECTION_MERGE,
        )
    unrecorded = migrate.verify_checksums(exercise.migrations / "versions")
    if unrecorded:
        return failed(
            "マージ revision が versions.sum に記録されていません (not "
            "recorded)。レビューの後 `migrate.write_checksums` で記録します。",
            SECTION_EDITED,
            *unrecorded,
        )
    with sandbox.create(
        "merge_replay", server=server_of(exercise), migrations=True
    ) as fresh:
        versions = fresh.migrations / "versions"
        for path in _new_files(exercise.migrations / "versions"):
            shutil.copy(path, versions)
        try:
            migrate.upgrade(fresh, "head")
        except MigrationError as error:
            return failed(
                f"空のデータベースで base → head が通りません: {error}",
                SECTION_MERGE,
            )
        replayed = _both_branches(fresh.engine)
    if not replayed:
        return failed(
            "空のデータベースで head まで上げても tags か users.nickname が"
            "できません (a branch is skipped from base)。",
            SECTION_MERGE,
        )
    return passed(
        "ブランチのファイルはそのままで、マージ revision が両方を"
        "まとめ、versions.sum にも記録されました。",
        f"head: {head} ← {', '.join(BRANCHES)}",
        f"このデータベース ({APPLIED_BRANCH} から) も、空のデータベース"
        "も head まで上がりました",
    )


def _waivers(files: list[Path]) -> list[str]:
    return [
        f"{path.name}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(
            path.read_text(encoding="utf-8").splitlines(), 1
        )
        if "#" in line and WAIVER.search(line.split("#", 1)[1])
    ]


@checker(SECTION_LINT)
def lint_fixed(exercise: sandbox.Sandbox) -> Result:
    """No findings and no waiver; users.plan filled in batches, NOT NULL;
    up, down and up again on a populated database."""
    files = _new_files(exercise.migrations / "versions")
    if not files:
        return failed(
            "versions/ にキットのもの以外の revision がありません "
            "(no revision to check)。",
            SECTION_LINT,
        )
    silenced = _waivers(files)
    if silenced:
        return failed(
            "waiver / noqa で指摘を黙らせています (silenced, not fixed)。"
            "この revision の問題は直せるので、免除ではなく書き方を"
            "直してください (waiver は戻せない理由があるときだけ)。",
            SECTION_LINT,
            *silenced,
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
        if mine == {f"{PLAN_NAME}.py"} and set(BAD_CODES) <= set(codes):
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


def _upgrade_in_batches(box: sandbox.Sandbox) -> Result | None:
    try:
        with update_sizes(box.engine) as sizes:
            migrate.upgrade(box, "head")
    except MigrationError as error:
        return failed(
            f"データの入ったデータベースで upgrade が失敗しました: {error}",
            SECTION_LINT,
        )
    if sizes and max(sizes) > MAX_BATCH:
        return failed(
            f"1 つの UPDATE で {max(sizes)} 行を書き換えています (one "
            "UPDATE over every row)。WHERE を足して MF201 を消しても、"
            "全行が 1 つのトランザクションのままです。"
            f"{MAX_BATCH} 行以下のバッチに分けるか、backfill の要らない"
            "書き方にしてください。",
            SECTION_LINT,
            "08_anti_patterns「大規模な一括更新」も参照",
        )
    return None


def _run_lint_job(box: sandbox.Sandbox, before: dict) -> Result:
    mistake = _upgrade_in_batches(box)
    if mistake is not None:
        return mistake
    rows, columns = _users(box.engine)
    if "plan" not in columns:
        return failed(
            "upgrade の後に users.plan 列がありません (column missing)。",
            SECTION_LINT,
        )
    if columns["plan"]["nullable"]:
        return failed(
            "users.plan が NULL を許したままです (still nullable)。"
            "最後に NOT NULL にしてください。",
            SECTION_LINT,
        )
    length = getattr(columns["plan"]["type"], "length", None)
    if length != PLAN_LENGTH:
        return failed(
            f"users.plan の型が String({PLAN_LENGTH}) ではありません "
            f"({columns['plan']['type']})。長さのない String は MariaDB で"
            "失敗します (VARCHAR requires a length)。",
            SECTION_LINT,
        )
    wrong = [i for i, row in rows.items() if row["plan"] != PLAN_DEFAULT]
    if len(rows) != len(before) or wrong:
        return failed(
            f"既存の行の plan が '{PLAN_DEFAULT}' になっていません "
            f"(e.g. id={wrong[0] if wrong else '?'})。",
            SECTION_LINT,
        )
    try:
        migrate.downgrade(box, HEAD)
        rows, columns = _users(box.engine)
        if "plan" in columns or rows != before:
            return failed(
                "downgrade の後に users.plan が残っているか、行が"
                "変わりました (downgrade did not undo the change)。",
                SECTION_LINT,
            )
        migrate.upgrade(box, "head")
    except MigrationError as error:
        return failed(
            f"downgrade か再 upgrade が失敗しました: {error}", SECTION_LINT
        )
    return passed(
        "waiver なしでリンターの指摘がなくなり、データの入った"
        "データベースで upgrade / downgrade / upgrade が通りました。",
        f"{len(before)} 行の plan が '{PLAN_DEFAULT}' になり、NOT NULL です",
        f"どの UPDATE も {MAX_BATCH} 行以下でした",
    )


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
    error, now, emails = outcome(test, server, LOWER_REVISION)
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
    if not emails:
        return failed(
            "users に行がないまま upgrade しています (empty database)。"
            "空のテーブルでは、revision が何もしなくても通ってしまいます。"
            f"{HEAD} で行を入れてから {LOWER_ID} に進めてください。",
            SECTION_SEEDED,
        )
    if any(e != e.lower() for e in emails):
        return failed(
            "テストの後に大文字の email が残っています: 行を upgrade の"
            "後に入れていませんか (rows inserted after the upgrade)。"
            "1 つ前で入れる → 1 つ進める → 確かめる、の順です。",
            SECTION_SEEDED,
        )
    missed = [
        name
        for name, source in BROKEN_REVISIONS.items()
        if outcome(test, server, source)[0] is None
    ]
    if missed:
        few = "最初のバッチしか処理しない revision" in missed
        return failed(
            f"壊した revision ({'、'.join(missed)}) でもテストが通って"
            "しまいました (the test does not catch a broken revision)。"
            "移行後の行を assert で確かめてください。"
            + (
                f" 1 バッチは {LOWER_BATCH} 行です: 大文字を含む行が"
                "それより多くないと、2 バッチ目以降の誤りは見えません。"
                if few
                else ""
            ),
            SECTION_SEEDED,
        )
    return passed(
        "正しい revision では通り、壊した revision "
        f"{len(BROKEN_REVISIONS)} つではすべて失敗しました。",
        *(f"見つけた: {name}" for name in BROKEN_REVISIONS),
    )
