"""Checkers for notebook 03 (inheritance): a joined subclass, a
polymorphic query, and the choice between single and joined tables.

- :func:`fresh_models` gives a private ``Base`` with ``User`` and
  ``Employee`` (joined, with a discriminator) for the learner to extend,
  so a ``Manager`` class never lands in ``app.models``' registry.
- :func:`prepare` builds the sandbox of the query exercise: the app's
  schema with a fixed set of users and employees.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy import Engine, ForeignKey, String
from sqlalchemy.engine import URL
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
)

from app import models
from dblab import sandbox, sqllog
from dblab.checks import Result, checker, failed, not_done, passed

NOTEBOOK = "03_inheritance"
SECTION_JOINED = f"{NOTEBOOK}「結合テーブル継承を正しく書く」"
SECTION_QUERY = f"{NOTEBOOK}「ポリモーフィックなクエリと SQL」"
SECTION_CHOICE = f"{NOTEBOOK}「どちらを選ぶか」"

DEPARTMENT_LENGTH = 50
"""The length exercise 1 names for ``managers.department``."""

PEOPLE = (
    # name, email, hire date (None: a plain user)
    ("佐藤 蓮", "ren.sato@example.com", datetime.date(2018, 4, 1)),
    ("鈴木 凛", "rin.suzuki@example.com", None),
    ("高橋 湊", "minato.takahashi@example.com", datetime.date(2023, 10, 1)),
    ("田中 葵", "aoi.tanaka@example.com", datetime.date(2020, 4, 1)),
    ("小林 陽菜", "hina.kobayashi@example.com", None),
    ("伊藤 樹", "itsuki.ito@example.com", None),
    ("渡辺 芽依", "mei.watanabe@example.com", datetime.date(2021, 7, 1)),
    ("山本 誠", "makoto.yamamoto@example.com", datetime.date(2019, 1, 15)),
    ("中村 結菜", "yuna.nakamura@example.com", datetime.date(2022, 4, 1)),
)


def fresh_models() -> SimpleNamespace:
    """A new ``Base`` with joined ``User`` / ``Employee``, as in app.models.

    Every call makes new classes, so re-running the learner's cell that
    subclasses ``Employee`` never meets a class defined earlier.
    """

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "users"

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(50))
        email: Mapped[str] = mapped_column(String(120), unique=True)
        type: Mapped[str] = mapped_column(String(20))

        __mapper_args__ = {
            "polymorphic_on": "type",
            "polymorphic_identity": "user",
        }

    class Employee(User):
        __tablename__ = "employees"

        id: Mapped[int] = mapped_column(
            ForeignKey("users.id"), primary_key=True
        )
        hire_date: Mapped[datetime.date]

        __mapper_args__ = {"polymorphic_identity": "employee"}

    return SimpleNamespace(Base=Base, User=User, Employee=Employee)


def prepare(server: URL | None = None) -> sandbox.Sandbox:
    """The query exercise's sandbox: app.models' tables, fixed people."""
    box = sandbox.create("inheritance_exercise", server=server)
    models.Base.metadata.create_all(box.engine)
    with Session(box.engine) as session:
        for name, email, hired in PEOPLE:
            if hired is None:
                session.add(models.User(name=name, email=email))
            else:
                session.add(
                    models.Employee(name=name, email=email, hire_date=hired)
                )
        session.commit()
    return box


SCENARIOS = {
    "A": (
        "single",
        "通知の種類ごとの追加列は 1〜2 個で、いつも全種類をまとめて"
        "時系列に並べます。結合のない単一テーブルが向いています。",
    ),
    "B": (
        "joined",
        "社員だけが持つ列が多く、しかも NOT NULL にしたい列ばかりです。"
        "1 つの表にするとそれらがすべて NULL 可になります。また勤怠記録が"
        "外部キーで employees.id を参照できるのは結合テーブル継承だけです"
        " (社員の人数の少なさは決め手ではありません)。",
    ),
}
SPELLINGS = {
    "single": "single",
    "単一": "single",
    "単一テーブル": "single",
    "単一テーブル継承": "single",
    "joined": "joined",
    "結合": "joined",
    "結合テーブル": "joined",
    "結合テーブル継承": "joined",
    "concrete": "concrete",
    "具象": "concrete",
    "具象テーブル": "concrete",
    "具象テーブル継承": "concrete",
}
CONCRETE_WHY = (
    "具象テーブル継承 (concrete) は種類ごとに完全なテーブルを持つので、"
    "全種類をまとめて読むと UNION になり、サブクラス全体を指す外部キーも"
    "作れません。"
)


def _department_problem(column_type: sa.types.TypeEngine) -> str:
    """Why ``managers.department`` is not the asked ``String(50)``."""
    if not isinstance(column_type, sa.String) or isinstance(
        column_type, sa.Text
    ):
        return (
            f"department の型が {column_type!r} です。部署名は文字列 "
            "String(50) にしてください。"
        )
    if column_type.length is None:
        return (
            "department が長さのない String です。SQLite と PostgreSQL は"
            "受け付けますが、MariaDB では VARCHAR に長さが要るので "
            "CREATE TABLE が失敗します。String(50) と長さを書いてください。"
        )
    if column_type.length != DEPARTMENT_LENGTH:
        return (
            f"department の長さが {column_type.length} です。課題のとおり "
            f"String({DEPARTMENT_LENGTH}) にしてください。"
        )
    return ""


@checker(SECTION_JOINED)
def manager_class(manager: type) -> Result:
    """Exercise 1: ``Manager(Employee)`` on its own ``managers`` table."""
    section = SECTION_JOINED
    if not isinstance(manager, type):
        return failed(
            f"クラスを渡してください ({type(manager).__name__} が"
            "渡されました)。",
            section,
        )
    mapper = sa.inspect(manager, raiseerr=False)
    if mapper is None:
        return failed(
            f"{manager.__name__} はマップされたクラスではありません。"
            "fresh_models() の Employee を継承してください。",
            section,
        )
    parent = mapper.inherits
    if parent is None or parent.class_.__name__ != "Employee":
        name = parent.class_.__name__ if parent is not None else "なし"
        return failed(
            f"{manager.__name__} の親クラスが Employee ではありません "
            f"(親: {name})。マネージャーも社員なので Employee を継承します。",
            section,
        )
    if mapper.local_table is parent.local_table:
        return failed(
            f"{manager.__name__} に自分のテーブルがありません "
            f"(列が {parent.local_table.name} に足されています)。"
            "これは単一テーブル継承です。__tablename__ = "
            '"managers" を書いてください。',
            section,
        )
    table = mapper.local_table
    if table.name != "managers":
        return failed(
            f'テーブル名が {table.name!r} です。"managers" にしてください。',
            section,
        )
    references = (
        {
            f"{fk.column.table.name}.{fk.column.name}"
            for fk in table.c.id.foreign_keys
        }
        if "id" in table.c
        else set()
    )
    if references != {"employees.id"}:
        return failed(
            "managers.id は主キーであり、同時に employees.id を参照する"
            f"外部キーにします (今の参照先: {sorted(references) or 'なし'})。",
            section,
        )
    if "department" not in table.c:
        return failed(
            "managers テーブルに department (部署名) の列がありません。",
            section,
        )
    problem = _department_problem(table.c.department.type)
    if problem:
        return failed(problem, section)
    identity = mapper.polymorphic_identity
    if identity is None:
        return failed(
            "polymorphic_identity がありません。識別列 type に入る値が"
            "ないと、読み込んだ行を Manager だと判定できません。",
            section,
        )
    if identity != "manager":
        return failed(
            f"polymorphic_identity が {identity!r} です。"
            '"manager" にしてください '
            "(他のクラスと同じ値だと区別できません)。",
            section,
        )
    return _round_trip(manager, parent.class_)


def _round_trip(manager: type, employee: type) -> Result:
    """Save a manager, load it back through the base class."""
    section = SECTION_JOINED
    root = sa.inspect(manager).base_mapper.class_
    box = sandbox.create("inheritance_manager_check")
    try:
        manager.metadata.create_all(box.engine)
        with Session(box.engine) as session:
            session.add(
                manager(
                    name="加藤 浩",
                    email="hiroshi.kato@example.com",
                    hire_date=datetime.date(2015, 4, 1),
                    department="開発部",
                )
            )
            session.commit()
        with Session(box.engine) as session:
            loaded = session.scalars(sa.select(root)).one()
            employees = session.scalars(sa.select(employee)).all()
        with box.engine.connect() as connection:
            kind = connection.scalar(sa.text("SELECT type FROM users"))
    finally:
        box.close()
    if type(loaded) is not manager:
        return failed(
            f"select({root.__name__}) で読み戻すと "
            f"{type(loaded).__name__} になりました (Manager のはず)。",
            section,
        )
    if employees != [loaded]:
        return failed(
            "select(Employee) の結果にマネージャーが入っていません。",
            section,
        )
    return passed(
        "Manager は Employee を継承する結合テーブル継承です。",
        f"テーブル managers (id → employees.id), 識別値 {kind!r}",
        f"select({root.__name__}) で読み戻すと Manager になりました",
    )


@checker(SECTION_QUERY)
def plain_users(
    function: Callable[[Session], Iterable[object]], engine: Engine
) -> Result:
    """Exercise 2: the users who are not employees, by e-mail, 1 SELECT."""
    section = SECTION_QUERY
    with Session(engine) as session, sqllog.capture(engine) as log:
        returned = function(session)
        if returned is None or returned is ...:
            return not_done(section)
        if isinstance(returned, sa.Select):
            return failed(
                "文 (select) そのものではなく、実行した結果を返してください "
                "(session.scalars(stmt).all())。",
                section,
            )
        items = list(returned)
    if any(isinstance(i, sa.Row | tuple) for i in items):
        return failed(
            "Row (タプル) が入っています。session.execute ではなく "
            "session.scalars で User オブジェクトを受け取ってください。",
            section,
        )
    if any(not isinstance(i, models.User) for i in items):
        names = sorted({type(i).__name__ for i in items})
        return failed(
            f"User 以外のものが入っています ({', '.join(names)})。",
            section,
        )
    staff = [i.name for i in items if isinstance(i, models.Employee)]
    if staff:
        return failed(
            f"社員が入っています ({', '.join(staff[:3])})。select(User) は"
            "社員も (Employee として) 返します。社員でない行は識別列 "
            'User.type == "user" で見分けられます。',
            section,
        )
    return _judge_plain(items, _expected_plain(engine), log)


def _expected_plain(engine: Engine) -> list[str]:
    users = sa.table("users", sa.column("email"), sa.column("type"))
    with engine.connect() as connection:
        query = sa.select(users.c.email).where(users.c.type == "user")
        return list(connection.scalars(query.order_by(users.c.email)))


def _judge_plain(
    items: list[models.User], expected: list[str], log: sqllog.SQLLog
) -> Result:
    section = SECTION_QUERY
    got = [i.email for i in items]
    if sorted(got) != expected:
        return failed(
            f"顔ぶれが違います: {len(got)} 人 (社員でない利用者は "
            f"{len(expected)} 人)。",
            section,
        )
    if got != expected:
        return failed(
            "顔ぶれは正しいのですが、並び順が違います。email の順 "
            "(order_by(User.email)) にしてください。",
            section,
        )
    selects = [s for s in log.statements if s.kind == "SELECT"]
    sql = selects[0].sql.upper() if len(selects) == 1 else ""
    if " WHERE " not in sql:
        return failed(
            f"SELECT が {len(selects)} 文で、WHERE のある 1 文になって"
            "いません。全員を読み込んで isinstance などで Python 側で"
            "選ぶのではなく、.where(...) でデータベースに絞り込ませて"
            "ください。",
            section,
        )
    if " ORDER BY " not in sql:
        return failed(
            "送られた SELECT に ORDER BY がありません。sorted() ではなく "
            ".order_by(User.email) でデータベースに並べさせてください。",
            section,
        )
    return passed(
        f"社員でない利用者 {len(got)} 人を、SELECT 1 文で email 順に"
        "読み込みました。",
        *(f"{i.name} <{i.email}>" for i in items),
    )


@checker(SECTION_CHOICE)
def choose_strategy(answers: dict) -> Result:
    """Exercise 3: ``{"A": "single" | "joined", "B": ...}``."""
    section = SECTION_CHOICE
    if not isinstance(answers, dict):
        return failed(
            '{"A": ..., "B": ...} の形の辞書で答えてください。', section
        )
    missing = [key for key in SCENARIOS if answers.get(key) in (None, ...)]
    if len(missing) == len(SCENARIOS):
        return not_done(section)
    if missing:
        return failed(
            f"場面 {', '.join(missing)} にまだ答えていません。", section
        )
    wrong = []
    for key, (right, why) in SCENARIOS.items():
        given = str(answers[key]).strip().lower()
        choice = SPELLINGS.get(given)
        if choice is None:
            return failed(
                f"場面 {key} の答え {answers[key]!r} が読めません。"
                '"single" か "joined" で答えてください。',
                section,
            )
        if choice == "concrete":
            wrong.append(f"場面 {key}: {CONCRETE_WHY}{why}")
        elif choice != right:
            wrong.append(f"場面 {key}: {why}")
    if wrong:
        return failed(
            f"{len(wrong)} つの場面で選択が違います。", section, *wrong
        )
    return passed(
        "どちらの場面も正しく選べました。",
        *(f"場面 {key}: {why}" for key, (_, why) in SCENARIOS.items()),
    )
