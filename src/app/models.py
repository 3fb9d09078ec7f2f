"""Models of the example app: users, their addresses, and employees.

SQLAlchemy 2.x style throughout: ``DeclarativeBase``, ``Mapped[...]`` and
``mapped_column``. The MetaData carries a naming convention, so every
constraint has a name that a later migration can refer to (SQLite's batch
mode needs those names to drop or alter a constraint).

``Employee`` uses joined-table inheritance: its own ``employees`` table
shares the primary key of ``users``, and ``users.type`` (the
discriminator, ``polymorphic_on``) says which class a row belongs to. The
2024 deck left the discriminator out; without it SQLAlchemy cannot tell
an employee from a user when it loads a row of ``users``.
"""

from __future__ import annotations

import datetime

from sqlalchemy import ForeignKey, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(120), unique=True)
    age: Mapped[int | None]
    type: Mapped[str] = mapped_column(String(20), server_default="user")

    addresses: Mapped[list[Address]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        order_by="Address.id",
    )

    __mapper_args__ = {
        "polymorphic_on": "type",
        "polymorphic_identity": "user",
    }

    def __repr__(self) -> str:
        return (
            f"User(id={self.id!r}, name={self.name!r}, email={self.email!r})"
        )


class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_address: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )

    user: Mapped[User] = relationship(back_populates="addresses")

    def __repr__(self) -> str:
        return (
            f"Address(id={self.id!r}, email_address={self.email_address!r}, "
            f"user_id={self.user_id!r})"
        )


class Employee(User):
    __tablename__ = "employees"

    id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    hire_date: Mapped[datetime.date]

    __mapper_args__ = {"polymorphic_identity": "employee"}

    def __repr__(self) -> str:
        return (
            f"Employee(id={self.id!r}, name={self.name!r}, "
            f"hire_date={self.hire_date!r})"
        )
