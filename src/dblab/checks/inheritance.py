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
from dblab import sandbox
from dblab.checks import Result, checker, failed, not_done, passed

NOTEBOOK = "03_inheritance"
SECTION_JOINED = f"{NOTEBOOK}「結合テーブル継承を正しく書く」"
SECTION_QUERY = f"{NOTEBOOK}「ポリモーフィックなクエリと SQL」"
SECTION_CHOICE = f"{NOTEBOOK}「どちらを選ぶか」"

CUTOFF = datetime.date(2020, 4, 1)
"""The query exercise asks for employees hired after this day."""

PEOPLE = (
    # name, email, hire date (None: a plain user)
    ("佐藤 蓮", "ren.sato@example.com", datetime.date(2018, 4, 1)),
    ("鈴木 凛", "rin.suzuki@example.com", None),
    ("高橋 湊", "minato.takahashi@example.com", datetime.date(2023, 10, 1)),
    ("田中 葵", "aoi.tanaka@example.com", CUTOFF),
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
        "社員はごく一部なので、1 つの表にすると大半の行が NULL だらけに"
        "なります。結合テーブル継承が向いています。",
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
}


def _expected_hires(engine: Engine) -> list[int]:
    employees = sa.table("employees", sa.column("id"), sa.column("hire_date"))
    with engine.connect() as connection:
        return list(
            connection.scalars(
                sa.select(employees.c.id)
                .where(employees.c.hire_date > CUTOFF)
                .order_by(employees.c.hire_date, employees.c.id)
            )
        )


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
def hired_after(employees: object, engine: Engine) -> Result:
    """Exercise 2: employees hired after CUTOFF, by hire date then id."""
    section = SECTION_QUERY
    if isinstance(employees, sa.Select):
        return failed(
            "文 (select) そのものではなく、実行した結果を渡してください "
            "(session.scalars(stmt).all())。",
            section,
        )
    items = list(employees)  # type: ignore[call-overload]
    rows = [i for i in items if isinstance(i, sa.Row | tuple)]
    if rows:
        return failed(
            "Row (タプル) が入っています。session.execute ではなく "
            "session.scalars で Employee オブジェクトを受け取ってください。",
            section,
        )
    others = [i for i in items if not isinstance(i, models.Employee)]
    if others:
        names = sorted({type(i).__name__ for i in others})
        return failed(
            f"Employee 以外のオブジェクトが入っています ({', '.join(names)})。"
            "select(Employee) から始めると社員だけが返ります。",
            section,
        )
    expected = _expected_hires(engine)
    got = [i.id for i in items]
    on_cutoff = [i.id for i in items if i.hire_date == CUTOFF]
    if on_cutoff:
        return failed(
            f"{CUTOFF} ちょうどに入社した社員が入っています。"
            "「より後」なので >= ではなく > です。",
            section,
        )
    if sorted(got) != sorted(expected):
        return failed(
            f"社員の顔ぶれが違います: {len(got)} 人 "
            f"(期待は {len(expected)} 人)。"
            f"hire_date > {CUTOFF!r} で絞り込んでください。",
            section,
        )
    if got != expected:
        return failed(
            "顔ぶれは正しいのですが、並び順が違います。"
            "入社日の早い順 (同じ日なら id 順) に並べてください。",
            section,
        )
    return passed(
        f"{CUTOFF} より後に入社した社員 {len(got)} 人、入社日順です。",
        *(f"{i.name} ({i.hire_date})" for i in items),
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
        if choice != right:
            wrong.append(f"場面 {key}: {why}")
    if wrong:
        return failed(
            f"{len(wrong)} つの場面で選択が違います。", section, *wrong
        )
    return passed(
        "どちらの場面も正しく選べました。",
        *(f"場面 {key}: {why}" for key, (_, why) in SCENARIOS.items()),
    )
