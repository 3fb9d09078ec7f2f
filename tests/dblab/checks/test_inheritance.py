"""Checkers of notebook 03: the solutions pass, wrong answers do not."""

from __future__ import annotations

import datetime
import warnings

import pytest
import sqlalchemy as sa
from sqlalchemy import ForeignKey, String
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
    department: bool = True,
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
    if department:
        namespace["__annotations__"]["department"] = Mapped[str | None]
        namespace["department"] = mapped_column(String(50))
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
        ({"department": False}, "department"),
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


# -- exercise 2: employees hired after the cutoff ---------------------------


@pytest.fixture(scope="module")
def exercise():
    box = inheritance.prepare()
    yield box
    box.close()


def run(box, statement):
    with box.session() as session:
        return session.scalars(statement).all()


def test_hired_after_solution_passes(exercise) -> None:
    hired = run(
        exercise,
        sa.select(Employee)
        .where(Employee.hire_date > inheritance.CUTOFF)
        .order_by(Employee.hire_date, Employee.id),
    )
    result = inheritance.hired_after(hired, exercise.engine)
    assert result.ok, result
    assert len(result.details) == 3


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            sa.select(Employee)
            .where(Employee.hire_date >= inheritance.CUTOFF)
            .order_by(Employee.hire_date),
            "ちょうど",
        ),
        (
            sa.select(Employee).where(Employee.hire_date > inheritance.CUTOFF),
            "並び順",
        ),
        (
            sa.select(Employee).order_by(Employee.hire_date),
            "ちょうど",
        ),
        (
            sa.select(Employee)
            .where(Employee.hire_date > datetime.date(2022, 1, 1))
            .order_by(Employee.hire_date),
            "顔ぶれ",
        ),
        (sa.select(User).order_by(User.id), "Employee 以外"),
    ],
)
def test_hired_after_wrong_answers_are_rejected(
    exercise, statement, expected
) -> None:
    result = inheritance.hired_after(run(exercise, statement), exercise.engine)
    assert not result.ok, result
    assert expected in result.message
    assert result.section == inheritance.SECTION_QUERY


def test_hired_after_rows_and_statements(exercise) -> None:
    statement = sa.select(Employee).where(
        Employee.hire_date > inheritance.CUTOFF
    )
    with exercise.session() as session:
        rows = session.execute(statement).all()
    assert "session.scalars" in (
        inheritance.hired_after(rows, exercise.engine).message
    )
    assert "実行した結果" in (
        inheritance.hired_after(statement, exercise.engine).message
    )
    stub = inheritance.hired_after(..., exercise.engine)
    assert "まだ解答がありません" in stub.message


def test_hired_after_on_every_backend(server) -> None:
    box = inheritance.prepare(server)
    try:
        right = run(
            box,
            sa.select(Employee)
            .where(Employee.hire_date > inheritance.CUTOFF)
            .order_by(Employee.hire_date, Employee.id),
        )
        assert inheritance.hired_after(right, box.engine).ok
        wrong = run(
            box,
            sa.select(Employee)
            .where(Employee.hire_date >= inheritance.CUTOFF)
            .order_by(Employee.hire_date, Employee.id),
        )
        assert not inheritance.hired_after(wrong, box.engine).ok
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
        ({"A": "concrete", "B": "joined"}, False, "読めません"),
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
