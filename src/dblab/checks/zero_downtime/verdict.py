"""What the capstone's grader concludes from a replay: named mistakes.

Each ``find_*`` function returns ``(message, section)`` pairs for the
mistakes it sees, the one the lesson warns about named first.
"""

from __future__ import annotations

import re

from dblab.checks.zero_downtime.replay import Replay
from dblab.traffic import VERSIONS
from dblab.traffic.versions import READS_NAME, USES_NAME

NOTEBOOK = "10_zero_downtime_capstone"
PLAN = f"{NOTEBOOK}「ロールアウト計画」"
TASK = f"{NOTEBOOK}「課題: 氏名を姓と名に分ける」"
RENAME = "06_split_migrations「列名の変更: expand → migrate → contract」"
NOT_NULL = "06_split_migrations「サンプル 3: NOT NULL への変更」"
LOCKS = "08_anti_patterns「大規模な一括更新」"

ONE_TRANSACTION_SHARE = 0.9
"""A step whose fill jumps by more than this share at once is one batch."""

NOT_NULL_TOO_EARLY = (
    "backfill が終わる前に family_name / given_name を NOT NULL に"
    "しています (NOT NULL before the backfill was complete)。"
    "新しい列を書く版 (dual) に入れ替え、backfill で全行を埋めて"
    "から制約を付けてください"
)

LINT_NAMES = {
    "MF104": (NOT_NULL_TOO_EARLY, NOT_NULL),
    "LK101": (
        "インデックスを書き込みを止める形で作っています (index built while "
        "blocking writes)。PostgreSQL では CONCURRENTLY を "
        "autocommit_block() の中で、MariaDB では ALGORITHM=INPLACE, "
        "LOCK=NONE を使ってください",
        LOCKS,
    ),
    "BC102": (
        "列名をそのまま変えています (a plain rename)。name を読む版が動いて"
        "いる間に名前が消え、その版のリクエストがすべて失敗します。"
        "新しい列を足して移す expand → migrate → contract にしてください",
        RENAME,
    ),
    "MF201": (
        "WHERE のない UPDATE で全行を 1 つのトランザクションで埋めています "
        "(a one-transaction backfill)。キーで区切ったバッチに分けてください",
        LOCKS,
    ),
}


def _joined(versions) -> str:
    return ", ".join(v for v in VERSIONS if v in versions)


def find_contract_too_early(run: Replay) -> list[tuple[str, str]]:
    """``name`` dropped while a live version still reads or writes it."""
    for step in run.steps:
        if "name" in step.columns_after or not step.columns_after:
            continue
        using = [v for v in step.live_during if v in USES_NAME]
        if using:
            readers = [v for v in using if v in READS_NAME]
            what = "読んで" if readers else "書いて"
            return [
                (
                    f"contract ({step.step.target}) を、まだ name を{what}"
                    f"いる版 ({_joined(using)}) が動いている間に適用しました "
                    "(contract before every live version stopped using name)。"
                    "new-only だけが動いてから contract してください",
                    PLAN,
                )
            ]
    return []


NULL_WORDS = re.compile(
    r"not[- ]null|null value|cannot be null|contains null|1048|1265|"
    r"data truncated",
    re.IGNORECASE,
)


def find_not_null_too_early(run: Replay) -> list[tuple[str, str]]:
    """NOT NULL while rows were unfilled, or while a version left them."""
    for step in run.steps:
        if step.step.kind != "apply":
            continue
        failed_on_nulls = step.error and NULL_WORDS.search(step.error)
        made_not_null = step.columns_after.get("family_name") is False
        writers_left = [
            v
            for v in step.live_after
            if v not in ("dual", "new-read", "new-only")
        ]
        if failed_on_nulls or (
            made_not_null and (step.unfilled_before or writers_left)
        ):
            return [(NOT_NULL_TOO_EARLY, NOT_NULL)]
    return []


def find_one_transaction_backfill(run: Replay) -> list[tuple[str, str]]:
    """A step that filled most rows in one jump the monitor could see."""
    for step in run.steps:
        if step.step.kind != "apply" or not step.unfilled_before:
            continue
        counts = [count for _, count in step.fills]
        if len(counts) < 2:
            continue
        filled = counts[-1] - counts[0]
        if filled < step.unfilled_before * 0.5:
            continue
        jump = max(b - a for a, b in zip(counts, counts[1:], strict=False))
        if jump > filled * ONE_TRANSACTION_SHARE:
            return [
                (
                    f"{step.step.target} は {filled} 行を 1 つの"
                    "トランザクションで埋めています "
                    "(a one-transaction backfill): その間、同じ行を書く"
                    "リクエストが待たされます (図の山)。キーで区切った"
                    "バッチごとにコミットしてください",
                    LOCKS,
                )
            ]
    return []


def find_errors(run: Replay) -> list[tuple[str, str]]:
    """Requests that failed, counted per version, with their first error."""
    found = []
    for version in VERSIONS:
        errors = [r for r in run.requests if r.version == version and r.error]
        if errors:
            found.append(
                (
                    f"アプリの版 {version} のリクエストが {len(errors)} 件失敗"
                    f"しました (errors seen by {version}): {errors[0].error}",
                    PLAN,
                )
            )
    return found


def classify_errors(run: Replay) -> list[tuple[str, str]]:
    """Name the mistake behind the errors when the text says it."""
    for request in run.requests:
        text = (request.error or "").lower()
        if "backfill has not reached" in text:
            return [
                (
                    f"{request.version} を backfill が終わる前に出しました "
                    "(a new-read version before the backfill was complete): "
                    "family_name が NULL の行を読んでいます",
                    PLAN,
                )
            ]
    return []


def name_findings(codes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Lint findings as named mistakes (the known ones first)."""
    named = [LINT_NAMES[code] for code, _ in codes if code in LINT_NAMES]
    rest = [
        (
            f"リンターの指摘 {code}: {line}",
            "07_testing_and_versioning「リンター」",
        )
        for code, line in codes
        if code not in LINT_NAMES
    ]
    return named + rest
