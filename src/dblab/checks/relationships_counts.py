"""Checker of notebook 02's exercise 3: counted, filtered, sorted in SQL.

The learner's ``few_addresses(session)`` returns ``(name, count)`` for the
users with at most :data:`FEW_ADDRESSES` address, fewest first, in one
SELECT with GROUP BY and HAVING. Counting with ``len(user.addresses)``
(N+1), filtering or sorting in Python, an aggregate in WHERE, an inner
join and ``count(*)`` are each named. Re-exported by
:mod:`dblab.checks.relationships`, where the notebook calls it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dblab import sqllog
from dblab.checks import Result, checker, failed, not_done, passed

NOTEBOOK = "02_relationships"
SECTION_GROUP = f"{NOTEBOOK}「結合と集計」"
SECTION_N_PLUS_ONE = f"{NOTEBOOK}「N+1 問題」"
MAX_STATEMENTS = 2
FEW_ADDRESSES = 1
"""Exercise 3 lists the users with at most this many addresses."""


def _shape_problem(rows: list[tuple]) -> Result | None:
    """A failure when the rows are not (name, integer count) pairs."""
    section = SECTION_GROUP
    if not rows:
        return failed("1 行も返っていません。", section)
    if any(len(row) != 2 for row in rows):
        return failed(
            f"各行は (名前, アドレスの数) の 2 列にしてください "
            f"(最初の行: {rows[0]!r})。",
            section,
        )
    if not all(isinstance(count, int) for _, count in rows):
        return failed(
            "2 列目はアドレスの数 (整数) にしてください "
            f"(最初の行: {rows[0]!r})。func.count(...) で数えます。",
            section,
        )
    return None


def _where_counted(log: sqllog.SQLLog) -> Result | None:
    """A failure when the counting or sorting happened in Python."""
    selects = [s for s in log.statements if s.kind == "SELECT"]
    if len(selects) > MAX_STATEMENTS:
        return failed(
            f"SQL を {len(selects)} 文送っています (利用者ごとにアドレスを"
            "読み込む N+1 問題です)。len(user.addresses) で数えると、"
            "利用者 1 人ごとに SELECT が 1 文増えます。"
            "func.count と group_by で、1 文の SELECT で数えてください。",
            SECTION_N_PLUS_ONE,
            *log.lines(parameters=False, limit=3),
        )
    if len(selects) != 1 or " GROUP BY " not in selects[0].sql.upper():
        return failed(
            f"SELECT が {len(selects)} 文で、GROUP BY のある文がありません。"
            "Python で数えず、func.count(Address.id) と group_by で"
            "データベースに数えさせてください。",
            SECTION_GROUP,
            *log.lines(parameters=False, limit=3),
        )
    if " HAVING " not in selects[0].sql.upper():
        return failed(
            "送られた SELECT に HAVING がありません。全員分を受け取って "
            "Python で絞り込むのではなく、集計した数の条件を "
            f"having(func.count(Address.id) <= {FEW_ADDRESSES}) で"
            "データベースに任せてください。",
            SECTION_GROUP,
        )
    if " ORDER BY " not in selects[0].sql.upper():
        return failed(
            "送られた SELECT に ORDER BY がありません。sorted() で Python "
            "側で並べ替えず、order_by でデータベースに並べさせてください。",
            SECTION_GROUP,
        )
    return None


def _count_truth(engine: Engine) -> list[tuple[str, int]]:
    """Users with at most :data:`FEW_ADDRESSES`: fewest first, then name."""
    users = sa.table("users", sa.column("id"), sa.column("name"))
    addresses = sa.table("addresses", sa.column("id"), sa.column("user_id"))
    query = (
        sa.select(users.c.name, sa.func.count(addresses.c.id))
        .outerjoin(addresses, addresses.c.user_id == users.c.id)
        .group_by(users.c.id, users.c.name)
    )
    with engine.connect() as connection:
        rows = [(name, count) for name, count in connection.execute(query)]
    few = [row for row in rows if row[1] <= FEW_ADDRESSES]
    return sorted(few, key=lambda row: (row[1], row[0]))


def _aggregate_in_where(error: sa.exc.DBAPIError) -> Result:
    text = str(error.orig).lower()
    if "aggregate" in text or "group function" in text:
        return failed(
            "集計関数 (count) の条件を where に書いたので、データベースが"
            "エラーにしました。where は集計の前の行を絞り込みます。集計した"
            "結果で絞り込むのは having(...) です。",
            SECTION_GROUP,
        )
    raise error


@checker(SECTION_GROUP)
def address_counts(
    addresses_per_user: Callable[[Session], Iterable[object]],
    engine: Engine,
) -> Result:
    """Exercise 3: users with <= 1 address, (name, count), fewest first."""
    section = SECTION_GROUP
    truth = _count_truth(engine)
    with Session(engine) as session, sqllog.capture(engine) as log:
        try:
            returned = addresses_per_user(session)
            if returned is None:
                return not_done(section)
            rows = [tuple(row) for row in returned]
        except sa.exc.DBAPIError as error:
            return _aggregate_in_where(error)
    shape = _shape_problem(rows) or _where_counted(log)
    if shape is not None:
        return shape
    got = [(str(name), count) for name, count in rows]
    return _membership_problem(got, truth) or _judge_counts(got, truth)


def _membership_problem(
    got: list[tuple[str, int]], truth: list[tuple[str, int]]
) -> Result | None:
    """A failure when the wrong users (or one user twice) came back."""
    section = SECTION_GROUP
    expected = dict(truth)
    names = Counter(name for name, _ in got)
    if any(n > 1 for n in names.values()):
        return failed(
            "同じ利用者が複数行に出ています。group_by で利用者ごとに"
            "1 行にまとめてください。",
            section,
        )
    zero = {name for name, count in truth if count == 0}
    missing = set(expected) - set(names)
    if missing and missing <= zero:
        return failed(
            f"アドレスが 0 件の利用者 ({len(missing)} 人) が入っていません。"
            "JOIN (内部結合) は相手のない行を落とします。"
            "outerjoin を使います。",
            section,
        )
    if missing:
        return failed(
            f"返っていない利用者が {len(missing)} 人います。", section
        )
    extra = sorted(set(names) - set(expected))
    if extra:
        return failed(
            f"アドレスが {FEW_ADDRESSES + 1} 件以上の利用者が {len(extra)} 人"
            f"入っています ({', '.join(extra[:3])} ...)。集計した数での"
            f"絞り込みは having(func.count(Address.id) <= {FEW_ADDRESSES})"
            " です。",
            section,
        )
    return None


def _judge_counts(
    got: list[tuple[str, int]], truth: list[tuple[str, int]]
) -> Result:
    section = SECTION_GROUP
    expected = dict(truth)
    zero = {name for name, count in truth if count == 0}
    wrong = {name: count for name, count in got if expected[name] != count}
    if wrong and all(name in zero and wrong[name] == 1 for name in wrong):
        return failed(
            "アドレスが 0 件の利用者が 1 件と数えられています。"
            "count(*) は外部結合で補われた NULL の行も数えます。"
            "count(Address.id) のようにアドレスの列を数えてください。",
            section,
        )
    if wrong:
        sample = ", ".join(
            f"{name}: {count} (正しくは {expected[name]})"
            for name, count in sorted(wrong.items())[:3]
        )
        return failed(f"件数が違う利用者がいます: {sample}", section)
    if got != truth:
        return failed(
            "件数は正しいのですが、並び順が違います。アドレスの少ない順、"
            "同じ件数なら名前の順 (order_by) にしてください。",
            section,
        )
    return passed(
        f"アドレスが {FEW_ADDRESSES} 件以下の {len(got)} 人の"
        " (名前, アドレスの数) が、SELECT 1 文 (GROUP BY + HAVING) で"
        "正しい順に並んでいます。",
        *(f"{name}: {count}" for name, count in got[:3]),
    )
