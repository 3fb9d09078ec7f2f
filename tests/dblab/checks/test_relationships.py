"""Checkers of notebook 02: the solutions pass, wrong answers do not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)

from dblab import sandbox as sandboxes
from dblab.checks import relationships

# The notebook's models (02_relationships「講義のサンプルを 2.x で書き直す」).


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    addresses: Mapped[list[Address]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        order_by="Address.id",
    )


class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_address: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user: Mapped[User] = relationship(back_populates="addresses")


@pytest.fixture(scope="module")
def box() -> Iterator[sandboxes.Sandbox]:
    """The exercise state on SQLite; the checkers only read it."""
    box = relationships.prepare(server=sa.URL.create("sqlite"))
    yield box
    box.close()


def selectin_users(session):
    stmt = sa.select(User).options(selectinload(User.addresses))
    return session.scalars(stmt).all()


def counts_query(session):
    stmt = (
        sa.select(User.name, sa.func.count(Address.id))
        .outerjoin(User.addresses)
        .group_by(User.id, User.name)
        .order_by(sa.func.count(Address.id).desc(), User.name)
    )
    return session.execute(stmt).all()


def test_prepare_has_users_without_addresses(box) -> None:
    rows = relationships._count_truth(box.engine)
    assert len(rows) == relationships.USERS
    assert {count for _, count in rows} == {0, 1, 2, 3}


# Exercise 1: load users with addresses in <= 2 statements.


def test_solutions_pass_on_every_backend(server) -> None:
    box = relationships.prepare(server=server)
    try:
        result = relationships.eager_users(selectin_users, box.engine)
        assert result.ok, result
        assert "2 文" in result.message
        result = relationships.address_counts(counts_query, box.engine)
        assert result.ok, result
    finally:
        box.close()


def test_joinedload_with_unique_passes(box) -> None:
    def load(session):
        stmt = sa.select(User).options(joinedload(User.addresses))
        return session.scalars(stmt).unique().all()

    result = relationships.eager_users(load, box.engine)
    assert result.ok, result
    assert "1 文" in result.message


def lazy(session):
    return session.scalars(sa.select(User)).all()


def joined_without_unique(session):
    stmt = sa.select(User).options(joinedload(User.addresses))
    return session.scalars(stmt).all()


def plain_join(session):
    stmt = sa.select(User).join(User.addresses)
    return session.scalars(stmt).all()


def only_with_addresses(session):
    stmt = (
        sa.select(User)
        .where(User.addresses.any())
        .options(selectinload(User.addresses))
    )
    return session.scalars(stmt).all()


def rows_not_objects(session):
    stmt = sa.select(User).options(selectinload(User.addresses))
    return session.execute(stmt).all()


def stub(session): ...


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        (lazy, f"{relationships.USERS + 1} 文"),
        (joined_without_unique, ".unique()"),
        (plain_join, "複数回"),
        (only_with_addresses, "返っていない利用者"),
        (rows_not_objects, "session.scalars"),
        (stub, "まだ解答がありません"),
    ],
)
def test_eager_users_rejects(box, load, expected) -> None:
    result = relationships.eager_users(load, box.engine)
    assert not result.ok
    assert expected in result.message, result
    assert result.section == relationships.SECTION_EAGER


def test_eager_users_stub_placeholder(box) -> None:
    result = relationships.eager_users(..., box.engine)
    assert "まだ解答がありません" in result.message


# Exercise 2: the relationship with back_populates and delete-orphan.


def models(parent_side: dict | None, child_side: dict | None) -> type:
    """Fresh classes on users / addresses, the exercise's skeleton."""

    class ExerciseBase(DeclarativeBase):
        pass

    class Customer(ExerciseBase):
        __tablename__ = "users"

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(50))

    class CustomerAddress(ExerciseBase):
        __tablename__ = "addresses"

        id: Mapped[int] = mapped_column(primary_key=True)
        email_address: Mapped[str] = mapped_column(String(120))
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    if parent_side is not None:
        Customer.addresses = relationship(CustomerAddress, **parent_side)
    if child_side is not None:
        CustomerAddress.user = relationship(Customer, **child_side)
    return Customer


def test_orphan_cascade_solution_passes() -> None:
    customer = models(
        {"back_populates": "user", "cascade": "all, delete-orphan"},
        {"back_populates": "addresses"},
    )
    result = relationships.orphan_cascade(customer)
    assert result.ok, result


def test_orphan_cascade_declared_in_class_passes() -> None:
    class ExerciseBase(DeclarativeBase):
        pass

    class Owner(ExerciseBase):
        __tablename__ = "users"

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(50))
        addresses: Mapped[list[OwnerAddress]] = relationship(
            back_populates="owner", cascade="all, delete-orphan"
        )

    class OwnerAddress(ExerciseBase):
        __tablename__ = "addresses"

        id: Mapped[int] = mapped_column(primary_key=True)
        email_address: Mapped[str] = mapped_column(String(120))
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
        owner: Mapped[Owner] = relationship(back_populates="addresses")

    result = relationships.orphan_cascade(Owner)
    assert result.ok, result


@pytest.mark.parametrize(
    ("parent_side", "child_side", "expected"),
    [
        (None, None, "relationship がまだありません"),
        (None, {}, "relationship がまだありません"),
        (
            {"cascade": "all, delete-orphan"},
            None,
            "back_populates がありません",
        ),
        (
            {"back_populates": "user", "cascade": "all, delete-orphan"},
            {},
            "対応する",
        ),
        (
            {"back_populates": "user"},
            {"back_populates": "addresses"},
            "delete-orphan",
        ),
        (
            {"back_populates": "user", "cascade": "all"},
            {"back_populates": "addresses"},
            "delete-orphan",
        ),
        pytest.param(
            {
                "back_populates": "user",
                "cascade": "save-update, delete-orphan",
            },
            {"back_populates": "addresses"},
            "delete がありません",
            # SQLAlchemy itself warns: delete-orphan requires delete.
            marks=pytest.mark.filterwarnings("ignore:The 'delete-orphan'"),
        ),
    ],
)
def test_orphan_cascade_rejects(parent_side, child_side, expected) -> None:
    result = relationships.orphan_cascade(models(parent_side, child_side))
    assert not result.ok
    assert expected in result.message, result
    assert result.section == relationships.SECTION_CASCADE


def test_orphan_cascade_stub_and_non_class() -> None:
    assert "まだ解答がありません" in relationships.orphan_cascade(...).message
    broken = relationships.orphan_cascade(int)
    assert not broken.ok
    assert "確認中にエラー" in broken.message


# Exercise 3: (name, count) per user.


def inner_join(session):
    stmt = (
        sa.select(User.name, sa.func.count(Address.id))
        .join(User.addresses)
        .group_by(User.id, User.name)
        .order_by(sa.func.count(Address.id).desc(), User.name)
    )
    return session.execute(stmt).all()


def count_star(session):
    stmt = (
        sa.select(User.name, sa.func.count())
        .outerjoin(User.addresses)
        .group_by(User.id, User.name)
        .order_by(sa.func.count().desc(), User.name)
    )
    return session.execute(stmt).all()


def by_name_only(session):
    stmt = (
        sa.select(User.name, sa.func.count(Address.id))
        .outerjoin(User.addresses)
        .group_by(User.id, User.name)
        .order_by(User.name)
    )
    return session.execute(stmt).all()


def without_group_by(session):
    stmt = sa.select(User.name, sa.func.count(Address.id)).outerjoin(
        User.addresses
    )
    return session.execute(stmt).all()


def emails_not_counts(session):
    stmt = sa.select(User.name, Address.email_address).outerjoin(
        User.addresses
    )
    return session.execute(stmt).all()


def three_columns(session):
    stmt = (
        sa.select(User.id, User.name, sa.func.count(Address.id))
        .outerjoin(User.addresses)
        .group_by(User.id, User.name)
    )
    return session.execute(stmt).all()


def nothing(session):
    return []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (inner_join, "outerjoin"),
        (count_star, "count(*)"),
        (by_name_only, "並び順"),
        (without_group_by, "group_by"),
        (three_columns, "2 列"),
        (emails_not_counts, "整数"),
        (nothing, "1 行も"),
        (stub, "まだ解答がありません"),
    ],
)
def test_address_counts_rejects(box, query, expected) -> None:
    result = relationships.address_counts(query, box.engine)
    assert not result.ok
    assert expected in result.message, result
    assert result.section == relationships.SECTION_GROUP
