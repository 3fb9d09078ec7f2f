"""Checkers for notebook 02 (relationships): N+1, cascade, group-by.

:func:`prepare` fills the notebook's ``users`` / ``addresses`` (some users
have none); :func:`eager_users` wants every user with addresses in <= 2
statements; :func:`orphan_cascade` a two-way ``relationship`` with
``all, delete-orphan`` that behaves so; :func:`address_counts` the
``(name, count)`` of the users with <= 1 address, in one SELECT (GROUP BY
+ HAVING), fewest first.
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
from dblab.checks.relationships_counts import (
    FEW_ADDRESSES,
    MAX_STATEMENTS,
    SECTION_GROUP,
    SECTION_N_PLUS_ONE,
    _count_truth,
    address_counts,
)

__all__ = [
    "FEW_ADDRESSES",
    "SECTION_GROUP",
    "SECTION_N_PLUS_ONE",
    "_count_truth",
    "address_counts",
    "eager_users",
    "orphan_cascade",
    "prepare",
]

NOTEBOOK = "02_relationships"
SECTION_EAGER = f"{NOTEBOOK}「N+1 を直す: selectinload と joinedload」"
SECTION_CASCADE = f"{NOTEBOOK}「カスケード: 一緒に消えるもの」"

USERS = 30
"""Users in the exercise sandbox; user ``i`` has ``i % 4`` addresses."""

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
            "同じ利用者がアドレスの数だけ行に現れるので、"
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
            "アドレスの表と JOIN した結果をそのまま返していませんか。"
            "読み込み方の指定は .options(...) に書きます。",
            section,
        )
    missing = sorted(truth.keys() - got.keys())
    if missing:
        return failed(
            f"返っていない利用者が {len(missing)} 人います "
            f"(全 {len(truth)} 人のうち)。アドレスのない利用者も含めて、"
            "すべての利用者を返してください。",
            section,
        )
    wrong = sorted(k for k in truth if got[k] != truth[k])
    if wrong:
        return failed(
            f"アドレスの中身が違う利用者がいます (id {wrong[:5]})。",
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
        f"{len(truth)} 人の利用者とアドレスを、SQL {statements} 文で"
        "読み込みました。",
        *(
            re.sub(r"(\?, ){3,}\?", "?, ?, ..., ?", line)
            for line in log.lines(parameters=False, limit=MAX_STATEMENTS)
        ),
    )


def _sample(cls: type, number: int) -> dict[str, object]:
    """Values for the plain columns of ``cls`` (not keys): a test row."""
    values: dict[str, object] = {}
    for column in sa.inspect(cls).columns:
        if column.primary_key or column.foreign_keys:
            continue
        text = isinstance(column.type, sa.String)
        values[column.key] = f"check{number}" if text else number + 1
    return values


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
            parent = cls(**_sample(cls, 0))
            getattr(parent, rel.key).extend(
                [
                    child(**_sample(child, 1)),
                    child(**_sample(child, 2)),
                ]
            )
            session.add(parent)
            session.commit()
            if children() != 2:
                return (
                    "一覧に追加した 2 件の子の行が保存されていません "
                    f"(保存されたのは {children()} 件)。"
                )
            back = rel.back_populates
            first = getattr(parent, rel.key)[0]
            if back and getattr(first, back) is not parent:
                return f"子の {back} が親を指していません。"
            getattr(parent, rel.key).pop(0)
            try:
                session.commit()
            except sa.exc.IntegrityError:
                session.rollback()
                return (
                    "一覧から外した子の行を消そうとせず、外部キーを NULL に"
                    "しようとして失敗しました (IntegrityError)。"
                )
            if children() != 1:
                return (
                    "一覧から外した子の行が残っています "
                    f"(行数 {children()}、1 のはず)。"
                )
            session.delete(parent)
            try:
                session.commit()
            except sa.exc.IntegrityError:
                session.rollback()
                return "親を削除すると IntegrityError になりました。"
            if children() != 0:
                return (
                    "親を削除しても、その子の行が残っています "
                    f"(行数 {children()})。"
                )
    finally:
        box.close()
    return ""


@checker(SECTION_CASCADE)
def orphan_cascade(cls: type) -> Result:
    """Exercise 2: one-to-many with back_populates and delete-orphan."""
    section = SECTION_CASCADE
    try:
        rel = _one_to_many(cls)
    except (sa.exc.NoForeignKeysError, sa.exc.ArgumentError) as error:
        return failed(
            "親と子のテーブルをつなぐ外部キーが見つかりません "
            f'({type(error).__name__})。子の側に ForeignKey("親の表.id") '
            "の列を書いてください。",
            section,
        )
    if rel is None:
        return failed(
            f"{cls.__name__} に 1 対多の relationship がまだありません。"
            f"{cls.__name__} 側に子の一覧 (Mapped[list[...]]) を"
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
            f"(今は {shown})。一覧から外した子の行が消えません。",
            section,
            'cascade="all, delete-orphan" を指定します。',
        )
    if not rel.cascade.delete:
        return failed(
            f"{where} の cascade に delete がありません (今は {shown})。"
            "親を消したときに子の行が残ります。",
            section,
            'cascade="all, delete-orphan" を指定します。',
        )
    unbounded = [
        f"{table.name}.{column.name}"
        for table in (rel.parent.local_table, rel.mapper.local_table)
        for column in table.columns
        if isinstance(column.type, sa.String)
        and column.type.length is None
        and not isinstance(column.type, sa.Text)
    ]
    if unbounded:
        return failed(
            f"{', '.join(unbounded)} が長さのない String です。SQLite では"
            "動きますが、MariaDB では VARCHAR に長さが要るので CREATE TABLE "
            "が失敗します。String(50) のように長さを書いてください。",
            section,
        )
    problem = _exercise_cascade(cls, rel)
    if problem:
        return failed(problem, section)
    return passed(
        f"{where}: back_populates={rel.back_populates!r}, "
        f"cascade に delete と delete-orphan があり、"
        "一覧から外した子の行も、消した親の子の行も削除されました。"
    )
