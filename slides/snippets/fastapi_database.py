"""FastAPI の database.py (2024 年版を今の SQLAlchemy で書き直したもの)."""

import os
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI
from sqlalchemy import URL, MetaData, create_engine, make_url, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


# region url
def database_url() -> URL:
    """接続情報はソースに書かず、環境変数から読む."""
    if "DATABASE_URL" in os.environ:
        return make_url(os.environ["DATABASE_URL"])
    return URL.create(  # パスワードの @ や / も正しくエスケープされる
        "mysql+pymysql",
        username=os.environ["DB_USER"],
        password=os.environ["DB_PASSWORD"],
        host=os.environ.get("DB_HOST", "localhost"),
        database=os.environ["DB_NAME"],
    )


# endregion url

# region engine
engine = create_engine(database_url(), pool_pre_ping=True)
# endregion engine

# region session
SessionLocal = sessionmaker(bind=engine, autoflush=False)


def get_db() -> Iterator[Session]:
    """リクエストごとに 1 つのセッション。最後に必ず閉じる."""
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


# endregion session


# region base
# 制約に名前を付ける (Alembic の batch mode が名前で制約を扱う)
NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "ix": "ix_%(column_0_label)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# endregion base

# region route
app = FastAPI()


@app.get("/health")
def health(db: Annotated[Session, Depends(get_db)]) -> dict[str, int]:
    return {"db": db.execute(text("SELECT 1")).scalar_one()}


# endregion route

if __name__ == "__main__":
    from fastapi.testclient import TestClient

    print(TestClient(app).get("/health").json())  # {'db': 1}

    # region escape
    password = "p@ss/word"  # noqa: S105 エスケープの実演用 (本物ではない)
    url = URL.create("mysql+pymysql", "app", password, "db", database="shop")
    print(url.render_as_string(hide_password=False))
    # mysql+pymysql://app:p%40ss%2Fword@db/shop
    # endregion escape
    assert make_url(url.render_as_string(False)).password == password
    engine.dispose()
