"""Database connection of the example app (the lecture's ``database.py``).

The 2024 deck kept user, password and host as constants in this file and
built the URL with an f-string. Here the four parts of the lecture stay,
corrected:

1. 接続情報 — read from the environment: ``DATABASE_URL`` whole, or the
   parts ``DB_USER``, ``DB_PASSWORD``, ``DB_HOST``, ``DB_PORT``,
   ``DB_NAME`` (plus ``DB_DRIVER``) put together by ``URL.create``, which
   escapes a password containing ``@`` or ``/``.
2. エンジン — ``create_engine`` with ``pool_pre_ping``.
3. セッションファクトリ — ``SessionLocal`` and the ``get_db`` dependency.
4. ベースクラス — ``app.models.Base`` (``DeclarativeBase``), not the
   deprecated ``declarative_base`` function.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SQLITE = Path(__file__).resolve().parents[2] / "work" / "app.sqlite"


def database_url(environ: dict[str, str] | None = None) -> URL:
    """The app's database URL, from the environment (never from source)."""
    env = os.environ if environ is None else environ
    if env.get("DATABASE_URL"):
        return parse_database_url(env["DATABASE_URL"])
    if env.get("DB_HOST") or env.get("DB_NAME"):
        port = env.get("DB_PORT")
        return URL.create(
            env.get("DB_DRIVER", "mysql+pymysql"),
            username=env.get("DB_USER"),
            password=env.get("DB_PASSWORD"),
            host=env.get("DB_HOST", "localhost"),
            port=int(port) if port else None,
            database=env.get("DB_NAME"),
        )
    DEFAULT_SQLITE.parent.mkdir(parents=True, exist_ok=True)
    return URL.create("sqlite", database=str(DEFAULT_SQLITE))


class DatabaseUrlError(ValueError):
    """``DATABASE_URL`` cannot be used; the message hides the password."""


def parse_database_url(value: str) -> URL:
    """``DATABASE_URL`` as a URL, or one line saying what is wrong with it.

    An ``@`` in the password must be written ``%40`` (or the URL built
    with ``URL.create``); the message never shows the password.
    """
    shown = re.sub(r"(://[^:/@\s]*:)\S*@", r"\1***@", value.strip())
    try:
        url = make_url(value.strip())
    except (ArgumentError, ValueError):
        raise DatabaseUrlError(
            f"DATABASE_URL の形式が正しくありません (malformed URL): {shown}"
            "。パスワードの記号は %40 (@) %2F (/) %3A (:) と書くか、"
            "DB_USER / DB_PASSWORD などに分けてください。"
        ) from None
    if "@" in (url.host or ""):
        raise DatabaseUrlError(
            "DATABASE_URL のパスワードに @ が含まれています (unescaped @ "
            f"in the password): {shown}。@ は %40 と書くか、DB_PASSWORD に"
            "分けてください (URL.create がエスケープします)。"
        )
    return url


SQLITE_BEGIN = "dblab_sqlite_begin"
"""Key in ``Connection.info``: the statement the recipe begins with
(``BEGIN``, or ``BEGIN IMMEDIATE`` while a migration runs)."""


def sqlite_transactional(engine: Engine) -> Engine:
    """Let SQLite roll back DDL: the recipe from SQLAlchemy's SQLite docs.

    Python's sqlite3 driver, left to itself, begins transactions only
    before INSERT/UPDATE/DELETE, so a CREATE TABLE in a migration that
    later fails stays behind. Here the driver is put in autocommit mode
    and SQLAlchemy emits BEGIN itself, so DDL is inside the transaction
    (also after an AUTOCOMMIT block, which resets the driver's mode).
    Foreign keys are enforced on every connection.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, connection_record):  # noqa: ARG001
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # Leaving AUTOCOMMIT (Alembic's autocommit_block) makes SQLAlchemy
        # set the driver's isolation_level to "" again: take it back.
        connection.connection.driver_connection.isolation_level = None
        connection.exec_driver_sql(connection.info.get(SQLITE_BEGIN, "BEGIN"))

    return engine


def make_engine(url: URL | str, **kwargs: object) -> Engine:
    """An engine for ``url``; SQLite gets the transactional recipe."""
    url = make_url(url)
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if url.get_backend_name() == "sqlite":
        sqlite_transactional(engine)
    return engine


def session_factory(bind: Engine) -> sessionmaker[Session]:
    """A factory of sessions on ``bind``, configured as ``SessionLocal``.

    ``autocommit=False`` of the 2024 deck is gone: since 2.0 a session
    always works in a transaction that the code commits.
    """
    return sessionmaker(bind=bind, autoflush=False)


engine = make_engine(database_url())
SessionLocal = session_factory(engine)


def get_db() -> Iterator[Session]:
    """FastAPI dependency: one session per request, always closed."""
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
