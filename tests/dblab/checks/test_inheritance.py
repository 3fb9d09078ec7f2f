"""Checkers of notebook 03: the solutions pass, wrong answers do not."""

from __future__ import annotations

import warnings

import pytest
import sqlalchemy as sa
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.exc import SAWarning
from sqlalchemy.orm import Mapped, mapped_column

from app.models import Employee, User
from dblab.checks import inheritance

# -- exercise 1: a joined Manager(Employee) ---------------------------------


def manager(
    *,
    parent: str = "Employee",
    tablename: str | None = "managers",
    references: str = "employees.id",
    identity: str | None = "manager",
    department: object = String(50),
) -> type:
    """A Manager class on fresh models, right or wrong in one way."""
    ex = inheritance.fresh_models()
    namespace: dict = {"__annotations__": {}}
    if tablename is not None:
        namespace["__tablename__"] = tablename
        namespace["__annotations__"]["id"] = Mapped[int]
        namespace["id"] = mapped_column(
            ForeignKey(references), primary_key=True
        )
    if department is not None:
        namespace["__annotations__"]["department"] = Mapped[str | None]
        namespace["department"] = mapped_column(department)
    if identity is not None:
        namespace["__mapper_args__"] = {"polymorphic_identity": identity}
    with warnings.catch_warnings():
        # a missing or repeated identity makes SQLAlchemy warn; the
        # checker is what must reject it
        warnings.simplefilter("ignore", SAWarning)
        return type("Manager", (getattr(ex, parent),), namespace)


def test_manager_solution_passes() -> None:
    result = inheritance.manager_class(manager())
    assert result.ok, result
    assert "Manager" in result.details[-1]


@pytest.mark.parametrize(
    ("wrong", "expected"),
    [
        (
            {"parent": "User", "references": "users.id"},
            "親クラスが Employee ではありません",
        ),
        ({"tablename": None}, "単一テーブル継承"),
        ({"tablename": "manager"}, "'manager'"),
        ({"department": None}, "department"),
        ({"department": String()}, "MariaDB"),
        ({"department": String(20)}, "長さが 20"),
        ({"department": Integer()}, "String(50)"),
        ({"identity": None}, "polymorphic_identity がありません"),
        ({"identity": "employee"}, "'employee'"),
    ],
)
def test_manager_wrong_answers_are_rejected(wrong, expected) -> None:
    result = inheritance.manager_class(manager(**wrong))
    assert not result.ok, result
    assert expected in result.message
    assert result.section == inheritance.SECTION_JOINED


def test_manager_stub_and_non_classes() -> None:
    assert "まだ解答がありません" in inheritance.manager_class(...).message
    assert "クラスを渡して" in inheritance.manager_class("Manager").message
    plain = inheritance.manager_class(int)
    assert not plain.ok and "マップされたクラスではありません" in plain.message


def test_fresh_models_are_independent() -> None:
    first, second = inheritance.fresh_models(), inheritance.fresh_models()
    assert first.Base is not second.Base
    assert sa.inspect(first.User).polymorphic_on.name == "type"


# -- exercise 2: the users who are not employees ---------------------------


@pytest.fixture(scope="module")
def exercise():
    box = inheritance.prepare()
    yield box
    box.close()


def plain_solution(session):
    stmt = sa.select(User).where(User.type == "user").order_by(User.email)
    return session.scalars(stmt).all()


def plain_not_in(session):
    employees = sa.select(Employee.id)
    stmt = sa.select(User).where(User.id.not_in(employees))
    return session.scalars(stmt.order_by(User.email)).all()


def everyone(session):
    return session.scalars(sa.select(User).order_by(User.email)).all()


def isinstance_in_python(session):
    """The lesson's cell 30 pattern: load all, pick in Python."""
    people = session.scalars(sa.select(User).order_by(User.email)).all()
    return [p for p in people if not isinstance(p, Employee)]


def sorted_in_python(session):
    stmt = sa.select(User).where(User.type == "user")
    return sorted(session.scalars(stmt), key=lambda u: u.email)


def by_id(session):
    stmt = sa.select(User).where(User.type == "user").order_by(User.id)
    return session.scalars(stmt).all()


def employees_only(session):
    return session.scalars(sa.select(Employee).order_by(User.email)).all()


def rows_not_objects(session):
    stmt = sa.select(User).where(User.type == "user").order_by(User.email)
    return session.execute(stmt).all()


def statement_only(session):  # noqa: ARG001
    return sa.select(User).where(User.type == "user")


def stub(session): ...


@pytest.mark.parametrize("answer", [plain_solution, plain_not_in])
def test_plain_users_solutions_pass(exercise, answer) -> None:
    result = inheritance.plain_users(answer, exercise.engine)
    assert result.ok, result
    assert len(result.details) == 3


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (everyone, "社員が入っています"),
        (isinstance_in_python, "WHERE"),
        (sorted_in_python, "ORDER BY"),
        (by_id, "並び順"),
        (employees_only, "社員が入っています"),
        (rows_not_objects, "session.scalars"),
        (statement_only, "実行した結果"),
        (stub, "まだ解答がありません"),
    ],
)
def test_plain_users_wrong_answers_are_rejected(
    exercise, answer, expected
) -> None:
    result = inheritance.plain_users(answer, exercise.engine)
    assert not result.ok, result
    assert expected in result.message
    assert result.section == inheritance.SECTION_QUERY


def test_plain_users_on_every_backend(server) -> None:
    box = inheritance.prepare(server)
    try:
        assert inheritance.plain_users(plain_solution, box.engine).ok
        wrong = inheritance.plain_users(isinstance_in_python, box.engine)
        assert not wrong.ok and "WHERE" in wrong.message
    finally:
        box.close()


# -- exercise 3: single or joined -------------------------------------------


@pytest.mark.parametrize(
    ("answers", "ok", "expected"),
    [
        ({"A": "single", "B": "joined"}, True, "正しく"),
        ({"A": " 単一テーブル継承 ", "B": "結合"}, True, "正しく"),
        ({"A": "joined", "B": "joined"}, False, "1 つの場面"),
        ({"A": "joined", "B": "single"}, False, "2 つの場面"),
        ({"A": "single", "B": ...}, False, "場面 B"),
        ({"A": "concrete", "B": "joined"}, False, "1 つの場面"),
        ({"A": "table", "B": "joined"}, False, "読めません"),
        ({"A": ..., "B": ...}, False, "まだ解答がありません"),
        (["single", "joined"], False, "辞書"),
    ],
)
def test_choose_strategy(answers, ok, expected) -> None:
    result = inheritance.choose_strategy(answers)
    assert result.ok is ok, result
    assert expected in result.message
    if not ok:
        assert result.section == inheritance.SECTION_CHOICE


def test_choose_strategy_explains_the_wrong_scene() -> None:
    result = inheritance.choose_strategy({"A": "single", "B": "single"})
    assert not result.ok
    assert len(result.details) == 1 and "場面 B" in result.details[0]


def test_choose_strategy_says_why_not_concrete() -> None:
    """Concrete, named in the lesson, is a choice: wrong here, with why."""
    result = inheritance.choose_strategy({"A": "具象", "B": "concrete"})
    assert not result.ok and "2 つの場面" in result.message
    assert all("UNION" in detail for detail in result.details)
    assert "外部キー" in result.details[1]
