"""結合テーブル継承: employees は users の主キーを共有し、type で見分ける."""

import datetime
import os

# region user
from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    type: Mapped[str] = mapped_column(String(20))  # 識別子 (discriminator)

    __mapper_args__ = {
        "polymorphic_on": "type",
        "polymorphic_identity": "user",
    }


# endregion user


# region employee
class Employee(User):
    __tablename__ = "employees"

    id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    hire_date: Mapped[datetime.date]  # Date 型は型注釈から決まる

    __mapper_args__ = {"polymorphic_identity": "employee"}


# endregion employee

engine = create_engine(os.environ["DATABASE_URL"])
Base.metadata.create_all(engine)

# region query
with Session(engine) as session:
    session.add_all(
        [
            User(name="alice"),
            Employee(name="bob", hire_date=datetime.date(2024, 4, 1)),
        ]
    )
    session.commit()

    people = session.scalars(select(User).order_by(User.id)).all()
    for person in people:
        print(type(person).__name__, person.name)  # User alice / Employee bob
# endregion query
assert [type(p) for p in people] == [User, Employee]
with engine.connect() as conn:
    kinds = conn.scalars(select(User.type).order_by(User.id)).all()
assert kinds == ["user", "employee"]
engine.dispose()
