"""SQLAlchemy 2.x の基本: モデル、テーブル作成、追加、検索."""

import os

# region model
from sqlalchemy import String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(120))


# endregion model

# region crud
engine = create_engine(os.environ["DATABASE_URL"])  # 接続先は環境変数から
Base.metadata.create_all(engine)

with Session(engine) as session:
    session.add(User(name="John Doe", email="john.doe@example.com"))
    session.commit()

    user = session.scalars(select(User).where(User.name == "John Doe")).one()
    print(f"Added user: {user.name}, Email: {user.email}")
# endregion crud
engine.dispose()
