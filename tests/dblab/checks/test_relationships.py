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
    n_addresses = sa.func.count(Address.id)
    stmt = (
        sa.select(User.name, n_addresses)
        .outerjoin(User.addresses)
        .group_by(User.id, User.name)
        .having(n_addresses <= 1)
        .order_by(n_addresses, User.name)
    )
    return session.execute(stmt).all()


def test_few_addresses_solution_passes(box) -> None:
    result = relationships.address_counts(counts_query, box.engine)
    assert result.ok, result
    assert "HAVING" in result.message


def test_prepare_has_users_without_addresses(box) -> None:
    truth = relationships._truth(box.engine)
    assert len(truth) == relationships.USERS
    assert {len(emails) for _, emails in truth.values()} == {0, 1, 2, 3}
    few = relationships._count_truth(box.engine)
    assert {count for _, count in few} == {0, 1}
    assert few == sorted(few, key=lambda row: (row[1], row[0]))


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


def models(
    parent_side: dict | None,
    child_side: dict | None,
    *,
    key: bool = True,
    product_type: String | None = None,
) -> type:
    """Fresh Order / OrderLine classes, the exercise's skeleton."""

    class ExerciseBase(DeclarativeBase):
        pass

    class Order(ExerciseBase):
        __tablename__ = "orders"

        id: Mapped[int] = mapped_column(primary_key=True)
        customer: Mapped[str] = mapped_column(String(50))

    class OrderLine(ExerciseBase):
        __tablename__ = "order_lines"

        id: Mapped[int] = mapped_column(primary_key=True)
        product: Mapped[str] = mapped_column(product_type or String(50))
        quantity: Mapped[int]
        if key:
            order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))

    if parent_side is not None:
        Order.lines = relationship(OrderLine, **parent_side)
    if child_side is not None:
        OrderLine.order = relationship(Order, **child_side)
    return Order


SOLUTION_PARENT = {"back_populates": "order", "cascade": "all, delete-orphan"}


def test_orphan_cascade_solution_passes() -> None:
    order = models(SOLUTION_PARENT, {"back_populates": "lines"})
    result = relationships.orphan_cascade(order)
    assert result.ok, result


def test_orphan_cascade_declared_in_class_passes() -> None:
    class ExerciseBase(DeclarativeBase):
        pass

    class Invoice(ExerciseBase):
        __tablename__ = "invoices"

        id: Mapped[int] = mapped_column(primary_key=True)
        customer: Mapped[str] = mapped_column(String(50))
        items: Mapped[list[InvoiceItem]] = relationship(
            back_populates="invoice", cascade="all, delete-orphan"
        )

    class InvoiceItem(ExerciseBase):
        __tablename__ = "invoice_items"

        id: Mapped[int] = mapped_column(primary_key=True)
        product: Mapped[str] = mapped_column(String(50))
        invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
        invoice: Mapped[Invoice] = relationship(back_populates="items")

    result = relationships.orphan_cascade(Invoice)
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
        (SOLUTION_PARENT, {}, "対応する"),
        (
            {"back_populates": "order"},
            {"back_populates": "lines"},
            "delete-orphan",
        ),
        (
            {"back_populates": "order", "cascade": "all"},
            {"back_populates": "lines"},
            "delete-orphan",
        ),
        pytest.param(
            {
                "back_populates": "order",
                "cascade": "save-update, delete-orphan",
            },
            {"back_populates": "lines"},
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


def test_orphan_cascade_string_without_length() -> None:
    """Fine on SQLite, a failed CREATE TABLE on MariaDB: caught here."""
    order = models(
        SOLUTION_PARENT, {"back_populates": "lines"}, product_type=String()
    )
    result = relationships.orphan_cascade(order)
    assert not result.ok
    assert "order_lines.product" in result.message
    assert "MariaDB" in result.message


def test_orphan_cascade_without_the_foreign_key() -> None:
    """The new part of the exercise: the learner writes order_id too."""
    order = models(SOLUTION_PARENT, {"back_populates": "lines"}, key=False)
    result = relationships.orphan_cascade(order)
    assert not result.ok
    assert "外部キー" in result.message, result
    assert result.section == relationships.SECTION_CASCADE


def test_orphan_cascade_stub_and_non_class() -> None:
    assert "まだ解答がありません" in relationships.orphan_cascade(...).message
    broken = relationships.orphan_cascade(int)
    assert not broken.ok
    assert "確認中にエラー" in broken.message


# Exercise 3: (name, count) of the users with at most one address.

N_ADDRESSES = sa.func.count(Address.id)


def few_query(*, join="outer", count=N_ADDRESSES, having=True, order=True):
    """The solution, or a variant wrong in one way."""
    stmt = sa.select(User.name, count)
    stmt = (
        stmt.outerjoin(User.addresses)
        if join == "outer"
        else stmt.join(User.addresses)
    )
    stmt = stmt.group_by(User.id, User.name)
    if having:
        stmt = stmt.having(count <= 1)
    if order:
        stmt = stmt.order_by(count, User.name)
    return stmt


def inner_join(session):
    return session.execute(few_query(join="inner")).all()


def count_star(session):
    return session.execute(few_query(count=sa.func.count())).all()


def most_first(session):
    stmt = few_query(order=False).order_by(N_ADDRESSES.desc(), User.name)
    return session.execute(stmt).all()


def filtered_in_python(session):
    rows = session.execute(few_query(having=False)).all()
    return [row for row in rows if row[1] <= 1]


def aggregate_in_where(session):
    stmt = (
        sa.select(User.name, N_ADDRESSES)
        .outerjoin(User.addresses)
        .where(N_ADDRESSES <= 1)
        .group_by(User.id, User.name)
    )
    return session.execute(stmt).all()


def without_group_by(session):
    stmt = sa.select(User.name, N_ADDRESSES).outerjoin(User.addresses)
    return session.execute(stmt).all()


def emails_not_counts(session):
    stmt = sa.select(User.name, Address.email_address).outerjoin(
        User.addresses
    )
    return session.execute(stmt).all()


def three_columns(session):
    stmt = sa.select(User.id, User.name, N_ADDRESSES).outerjoin(User.addresses)
    return session.execute(stmt.group_by(User.id, User.name)).all()


def nothing(session):
    return []


def len_of_addresses(session):
    """The notebook's N+1: one SELECT per user for ``u.addresses``."""
    users = session.scalars(sa.select(User).order_by(User.name)).all()
    rows = [(u.name, len(u.addresses)) for u in users]
    return sorted(
        (row for row in rows if row[1] <= 1), key=lambda r: (r[1], r[0])
    )


def counted_in_python(session):
    """Eager loading, then counting in Python: 2 SELECTs, no GROUP BY."""
    query = sa.select(User).options(selectinload(User.addresses))
    rows = [(u.name, len(u.addresses)) for u in session.scalars(query)]
    return sorted(
        (row for row in rows if row[1] <= 1), key=lambda r: (r[1], r[0])
    )


def sorted_in_python(session):
    rows = [tuple(row) for row in session.execute(few_query(order=False))]
    return sorted(rows, key=lambda row: (row[1], row[0]))


def test_address_counts_rejects_n_plus_one(box) -> None:
    result = relationships.address_counts(len_of_addresses, box.engine)
    assert not result.ok
    assert "N+1" in result.message, result
    assert result.section == relationships.SECTION_N_PLUS_ONE


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (inner_join, "outerjoin"),
        (count_star, "count(*)"),
        (most_first, "並び順"),
        (filtered_in_python, "HAVING"),
        (aggregate_in_where, "having(...)"),
        (without_group_by, "group_by"),
        (three_columns, "2 列"),
        (emails_not_counts, "整数"),
        (nothing, "1 行も"),
        (counted_in_python, "GROUP BY"),
        (sorted_in_python, "ORDER BY"),
        (stub, "まだ解答がありません"),
    ],
)
def test_address_counts_rejects(box, query, expected) -> None:
    result = relationships.address_counts(query, box.engine)
    assert not result.ok
    assert expected in result.message, result
    assert result.section == relationships.SECTION_GROUP
