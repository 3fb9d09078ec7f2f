"""User ↔ Address: back_populates、cascade、N+1 を selectinload で解消."""

import os

# region imports
from sqlalchemy import ForeignKey, String, create_engine, event, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    selectinload,
)

# endregion imports


class Base(DeclarativeBase):
    pass


# region user
class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    addresses: Mapped[list["Address"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


# endregion user


# region address
class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_address: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user: Mapped[User] = relationship(back_populates="addresses")


# endregion address

engine = create_engine(os.environ["DATABASE_URL"])
Base.metadata.create_all(engine)
selects: list[str] = []


@event.listens_for(engine, "before_cursor_execute")
def count_selects(conn, cursor, statement, *args) -> None:
    if statement.lstrip().upper().startswith("SELECT"):
        selects.append(statement)


with Session(engine) as session:
    for i in range(3):
        user = User(name=f"user{i}")
        user.addresses.append(Address(email_address=f"user{i}@home.example"))
        user.addresses.append(Address(email_address=f"user{i}@work.example"))
        session.add(user)  # addresses も一緒に保存される (cascade)
    session.commit()
selects.clear()

# region lazy
with Session(engine) as session:  # 遅い: 何も指定しない (遅延ロード)
    for user in session.scalars(select(User)):
        print(user.name, len(user.addresses))  # 1 人ごとに SELECT
# endregion lazy
print("SELECT の回数 (遅延ロード):", len(selects))
assert len(selects) == 1 + 3  # N+1

selects.clear()
# region query
with Session(engine) as session:  # 直す: まとめて読み込む
    stmt = select(User).options(selectinload(User.addresses))
    for user in session.scalars(stmt):
        print(user.name, [a.email_address for a in user.addresses])
# endregion query
print("SELECT の回数 (selectinload):", len(selects))
assert len(selects) == 2  # users を 1 回、addresses を 1 回
engine.dispose()
