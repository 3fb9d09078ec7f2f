"""Checkers for notebook 02 (relationships): N+1, cascade, group-by.

- :func:`prepare`: a sandbox with the notebook's ``users`` / ``addresses``
  tables and a fixed set of rows (some users have no address at all).
- :func:`eager_users`: the learner's ``load_users(session)`` returns every
  user with the right addresses, in at most two statements.
- :func:`orphan_cascade`: the learner's mapped parent class has a
  one-to-many ``relationship`` with ``back_populates`` and
  ``all, delete-orphan``, and it behaves so in a sandbox of its own.
- :func:`address_counts`: the learner's ``few_addresses(session)``
  returns ``(name, count)`` for the users with at most one address
  (GROUP BY + HAVING, counted in one SELECT), fewest first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import RelationshipDirection, Session

from dblab import sandbox, sqllog
from dblab.checks import Result, checker, failed, not_done, passed

NOTEBOOK = "02_relationships"
SECTION_EAGER = f"{NOTEBOOK}「N+1 を直す: selectinload と joinedload」"
SECTION_CASCADE = f"{NOTEBOOK}「カスケード: 一緒に消えるもの」"
SECTION_GROUP = f"{NOTEBOOK}「結合と集計」"
SECTION_N_PLUS_ONE = f"{NOTEBOOK}「N+1 問題」"

USERS = 30
"""Users in the exercise sandbox; user ``i`` has ``i % 4`` addresses."""
MAX_STATEMENTS = 2
FEW_ADDRESSES = 1
"""Exercise 3 lists the users with at most this many addresses."""

METADATA = sa.MetaData()
USERS_TABLE = sa.Table(
    "users",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)
ADDRESSES_TABLE = sa.Table(
    "addresses",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email_address", sa.String(120), nullable=False),
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False
    ),
)


def user_name(number: int) -> str:
    """``user01`` ... (same length, so every collation sorts them alike)."""
    return f"user{number:02d}"


def prepare(server: URL | None = None) -> sandbox.Sandbox:
    """The exercises' starting state: users and addresses, rows filled.

    The tables are the ones the notebook's ``User`` / ``Address`` map, so
    the learner's queries written against those classes run here.
    """
    box = sandbox.create("relationships_exercise", server=server)
    METADATA.create_all(box.engine)
    users = [{"id": i, "name": user_name(i)} for i in range(1, USERS + 1)]
    addresses = [
        {"email_address": f"{user_name(i)}.{k}@example.com", "user_id": i}
        for i in range(1, USERS + 1)
        for k in range(i % 4)
    ]
    with box.engine.begin() as connection:
        connection.execute(sa.insert(USERS_TABLE), users)
        connection.execute(sa.insert(ADDRESSES_TABLE), addresses)
    return box


def _truth(engine: Engine) -> dict[int, tuple[str, list[str]]]:
    """Every user id -> (name, sorted e-mail addresses), read with Core."""
    with engine.connect() as connection:
        users = connection.execute(
            sa.select(USERS_TABLE.c.id, USERS_TABLE.c.name)
        ).all()
        addresses = connection.execute(
            sa.select(
                ADDRESSES_TABLE.c.user_id, ADDRESSES_TABLE.c.email_address
            )
        ).all()
    truth = {row.id: (row.name, []) for row in users}
    for row in addresses:
        truth[row.user_id][1].append(row.email_address)
    return {k: (name, sorted(emails)) for k, (name, emails) in truth.items()}


def _unique_hint(error: Exception) -> Result | None:
    if isinstance(error, sa.exc.InvalidRequestError) and "unique" in str(
        error
    ):
        return failed(
            "joinedload の結果に .unique() がありません。1 対多を JOIN すると"
            "同じ利用者が住所の数だけ行に現れるので、"
            "session.scalars(...).unique().all() として重複を除きます。",
            SECTION_EAGER,
        )
    return None


@checker(SECTION_EAGER)
def eager_users(
    load_users: Callable[[Session], Iterable[object]], engine: Engine
) -> Result:
    """Exercise 1: all users with their addresses in <= 2 statements."""
    section = SECTION_EAGER
    truth = _truth(engine)
    with Session(engine) as session, sqllog.capture(engine) as log:
        try:
            returned = load_users(session)
        except sa.exc.InvalidRequestError as error:
            hint = _unique_hint(error)
            if hint is None:
                raise
            return hint
        if returned is None:
            return not_done(section)
        users = list(returned)
        if users and not all(
            hasattr(u, "addresses") and hasattr(u, "id") for u in users
        ):
            return failed(
                "User オブジェクトのリストを返してください "
                f"(返ってきたのは {type(users[0]).__name__})。"
                "session.execute ではなく session.scalars を使います。",
                section,
            )
        got = {
            u.id: (
                u.name,
                sorted(a.email_address for a in u.addresses),
            )
            for u in users
        }
    statements = log.count()
    ids = Counter(u.id for u in users)
    repeated = sorted(k for k, n in ids.items() if n > 1)
    if repeated:
        return failed(
            f"同じ利用者が複数回返っています (id {repeated[:5]} ...)。"
            "住所の表と JOIN した結果をそのまま返していませんか。"
            "読み込み方の指定は .options(...) に書きます。",
            section,
        )
    missing = sorted(truth.keys() - got.keys())
    if missing:
        return failed(
            f"返っていない利用者が {len(missing)} 人います "
            f"(全 {len(truth)} 人のうち)。住所のない利用者も含めて、"
            "すべての利用者を返してください。",
            section,
        )
    wrong = sorted(k for k in truth if got[k] != truth[k])
    if wrong:
        return failed(
            f"住所の中身が違う利用者がいます (id {wrong[:5]})。",
            section,
        )
    if statements > MAX_STATEMENTS:
        return failed(
            f"結果は正しいのですが、SQL を {statements} 文送っています "
            f"(利用者 {len(truth)} 人 + 最初の 1 文: N+1 問題)。"
            f"{MAX_STATEMENTS} 文以内にしてください。",
            section,
            "ヒント: select(User).options(selectinload(User.addresses))",
        )
    return passed(
        f"{len(truth)} 人の利用者と住所を、SQL {statements} 文で"
        "読み込みました。",
        *(
            re.sub(r"(\?, ){3,}\?", "?, ?, ..., ?", line)
            for line in log.lines(parameters=False, limit=MAX_STATEMENTS)
        ),
    )


def _one_to_many(cls: type) -> sa.orm.RelationshipProperty | None:
    mapper = sa.inspect(cls)
    for rel in mapper.relationships:
        if rel.direction is RelationshipDirection.ONETOMANY:
            return rel
    return None


def _exercise_cascade(cls: type, rel: sa.orm.RelationshipProperty) -> str:
    """Run the cascade in a fresh sandbox; '' when it behaves."""
    child = rel.mapper.class_
    child_table = rel.mapper.local_table
    box = sandbox.create("relationships_cascade_check")
    try:
        cls.metadata.create_all(box.engine)

        def children() -> int:
            with box.engine.connect() as connection:
                query = sa.select(sa.func.count()).select_from(child_table)
                return connection.execute(query).scalar_one()

        with Session(box.engine) as session:
            parent = cls(name="check")
            getattr(parent, rel.key).extend(
                [
                    child(email_address="one@example.com"),
                    child(email_address="two@example.com"),
                ]
            )
            session.add(parent)
            session.commit()
            if children() != 2:
                return (
                    "一覧に追加した 2 件の住所が保存されていません "
                    f"(保存されたのは {children()} 件)。"
                )
            back = rel.back_populates
            first = getattr(parent, rel.key)[0]
            if back and getattr(first, back) is not parent:
                return f"住所の {back} が利用者を指していません。"
            getattr(parent, rel.key).pop(0)
            try:
                session.commit()
            except sa.exc.IntegrityError:
                session.rollback()
                return (
                    "一覧から外した住所を消そうとせず、user_id を NULL に"
                    "しようとして失敗しました (IntegrityError)。"
                )
            if children() != 1:
                return (
                    "一覧から外した住所の行が残っています "
                    f"(行数 {children()}、1 のはず)。"
                )
            session.delete(parent)
            try:
                session.commit()
            except sa.exc.IntegrityError:
                session.rollback()
                return "利用者を削除すると IntegrityError になりました。"
            if children() != 0:
                return (
                    "利用者を削除しても、その住所の行が残っています "
                    f"(行数 {children()})。"
                )
    finally:
        box.close()
    return ""


@checker(SECTION_CASCADE)
def orphan_cascade(cls: type) -> Result:
    """Exercise 2: one-to-many with back_populates and delete-orphan."""
    section = SECTION_CASCADE
    rel = _one_to_many(cls)
    if rel is None:
        return failed(
            f"{cls.__name__} に 1 対多の relationship がまだありません。"
            f"{cls.__name__} 側に住所の一覧 (Mapped[list[...]]) を"
            " relationship で定義してください。",
            section,
        )
    where = f"{cls.__name__}.{rel.key}"
    if not rel.back_populates:
        return failed(
            f"{where} に back_populates がありません。"
            "両方のクラスに relationship を書き、互いの属性名を"
            " back_populates で指し合うようにします。",
            section,
        )
    reverse = rel.mapper.relationships.get(rel.back_populates)
    if reverse is None or reverse.back_populates != rel.key:
        return failed(
            f"{where} の back_populates={rel.back_populates!r} に対応する"
            f" relationship が {rel.mapper.class_.__name__} 側にありません"
            f" (そちらにも back_populates={rel.key!r} が要ります)。",
            section,
        )
    shown = ", ".join(sorted(rel.cascade))
    if not rel.cascade.delete_orphan:
        return failed(
            f"{where} の cascade に delete-orphan がありません "
            f"(今は {shown})。一覧から外した住所が消えません。",
            section,
            'cascade="all, delete-orphan" を指定します。',
        )
    if not rel.cascade.delete:
        return failed(
            f"{where} の cascade に delete がありません (今は {shown})。"
            "利用者を消したときに住所が残ります。",
            section,
            'cascade="all, delete-orphan" を指定します。',
        )
    problem = _exercise_cascade(cls, rel)
    if problem:
        return failed(problem, section)
    return passed(
        f"{where}: back_populates={rel.back_populates!r}, "
        f"cascade に delete と delete-orphan があり、"
        "外した住所も、消した利用者の住所も削除されました。"
    )


def _shape_problem(rows: list[tuple]) -> Result | None:
    """A failure when the rows are not (name, integer count) pairs."""
    section = SECTION_GROUP
    if not rows:
        return failed("1 行も返っていません。", section)
    if any(len(row) != 2 for row in rows):
        return failed(
            f"各行は (名前, 住所の数) の 2 列にしてください "
            f"(最初の行: {rows[0]!r})。",
            section,
        )
    if not all(isinstance(count, int) for _, count in rows):
        return failed(
            "2 列目は住所の数 (整数) にしてください "
            f"(最初の行: {rows[0]!r})。func.count(...) で数えます。",
            section,
        )
    return None


def _where_counted(log: sqllog.SQLLog) -> Result | None:
    """A failure when the counting or sorting happened in Python."""
    selects = [s for s in log.statements if s.kind == "SELECT"]
    if len(selects) > MAX_STATEMENTS:
        return failed(
            f"SQL を {len(selects)} 文送っています (利用者ごとに住所を"
            "読み込む N+1 問題です)。len(user.addresses) で数えると、"
            "利用者 1 人ごとに SELECT が 1 文増えます。"
            "func.count と group_by で、1 文の SELECT で数えてください。",
            SECTION_N_PLUS_ONE,
            *log.lines(parameters=False, limit=3),
        )
    if len(selects) != 1 or " GROUP BY " not in selects[0].sql.upper():
        return failed(
            f"SELECT が {len(selects)} 文で、GROUP BY のある文がありません。"
            "住所を読み込んで Python で数えるのではなく、"
            "func.count(Address.id) と group_by でデータベースに数えさせ、"
            "1 文で受け取ってください。",
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
    rows = [(name, len(emails)) for name, emails in _truth(engine).values()]
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
            f"住所が 0 件の利用者 ({len(missing)} 人) が入っていません。"
            "JOIN (内部結合) は相手のない行を落とします。"
            "outerjoin を使います。",
            section,
        )
    if missing and len(got) == 1:
        return failed(
            f"1 行しか返っていません (返すはずの利用者は {len(truth)} 人)。"
            "group_by がないと、集計関数は表全体を 1 行にまとめます。"
            "group_by で利用者ごとに数えてください。",
            section,
        )
    if missing:
        return failed(
            f"返っていない利用者が {len(missing)} 人います。", section
        )
    extra = sorted(set(names) - set(expected))
    if extra:
        return failed(
            f"住所が {FEW_ADDRESSES + 1} 件以上の利用者が {len(extra)} 人"
            f"入っています ({', '.join(extra[:3])} ...)。集計した数での"
            f"絞り込みは having(func.count(Address.id) <= {FEW_ADDRESSES})"
            " です。",
            section,
        )
    wrong = {name: count for name, count in got if expected[name] != count}
    if wrong and all(name in zero and wrong[name] == 1 for name in wrong):
        return failed(
            "住所が 0 件の利用者が 1 件と数えられています。"
            "count(*) は外部結合で補われた NULL の行も数えます。"
            "count(Address.id) のように住所の列を数えてください。",
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
            "件数は正しいのですが、並び順が違います。住所の少ない順、"
            "同じ件数なら名前の順 (order_by) にしてください。",
            section,
        )
    return passed(
        f"住所が {FEW_ADDRESSES} 件以下の {len(got)} 人の (名前, 住所の数) が"
        "、SELECT 1 文 (GROUP BY + HAVING) で正しい順に並んでいます。",
        *(f"{name}: {count}" for name, count in got[:3]),
    )
