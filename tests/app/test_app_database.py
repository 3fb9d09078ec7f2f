"""app.database: the URL comes from the environment, never from source."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from app import database, migration_lock, models


def test_database_url_wins() -> None:
    url = database.database_url(
        {"DATABASE_URL": "postgresql+psycopg://u@db:5432/app", "DB_HOST": "x"}
    )
    assert url.host == "db"
    assert url.database == "app"


def test_parts_are_escaped_by_url_create() -> None:
    password = "p@ss/w:rd"  # noqa: S105  (a test value, not a secret)
    url = database.database_url(
        {
            "DB_USER": "app",
            "DB_PASSWORD": password,
            "DB_HOST": "db.internal",
            "DB_PORT": "3306",
            "DB_NAME": "shop",
        }
    )
    assert url.password == password
    assert url.port == 3306
    rendered = url.render_as_string(hide_password=False)
    assert "p%40ss%2Fw%3Ard" in rendered
    assert sa.make_url(rendered).password == password


def test_default_is_sqlite_in_the_work_folder() -> None:
    url = database.database_url({})
    assert url.get_backend_name() == "sqlite"
    assert url.database == str(database.DEFAULT_SQLITE)


def test_sqlite_recipe_rolls_back_ddl_and_enforces_foreign_keys() -> None:
    engine = database.make_engine("sqlite://")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("CREATE TABLE t (id INTEGER)"))
            connection.rollback()
            assert "t" not in sa.inspect(connection).get_table_names()
            fk = connection.execute(sa.text("PRAGMA foreign_keys")).scalar()
            assert fk == 1
    finally:
        engine.dispose()


def test_sqlite_recipe_survives_an_autocommit_block(tmp_path) -> None:
    """After AUTOCOMMIT (Alembic's autocommit_block) the next transaction
    is the recipe's again: the migration's BEGIN IMMEDIATE holds the write
    lock, so a second writer cannot start (it could with a deferred BEGIN).
    """
    path = tmp_path / "app.sqlite"
    engine = database.make_engine(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with engine.connect() as connection:
            level = connection.get_isolation_level()
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("CREATE TABLE t (id INTEGER)")
            connection.commit()
            connection.execution_options(isolation_level=level)
            with migration_lock.write_lock_at_begin(connection):
                connection.begin()
                driver = connection.connection.driver_connection
                assert driver.isolation_level is None
                connection.exec_driver_sql("SELECT * FROM t").all()
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
                connection.rollback()
    finally:
        other.close()
        engine.dispose()


def test_models_have_named_constraints() -> None:
    for table in models.Base.metadata.tables.values():
        for constraint in table.constraints:
            assert constraint.name, (table.name, constraint)
    users = models.Base.metadata.tables["users"]
    assert users.c.type.server_default is not None
    assert models.User.__mapper__.polymorphic_on is users.c.type


def test_unescaped_at_sign_is_one_line_without_the_password() -> None:
    secret = "Hunter2secret"  # noqa: S105 (a test value)
    with pytest.raises(database.DatabaseUrlError) as caught:
        database.database_url(
            {"DATABASE_URL": f"mysql+pymysql://u:{secret}@x@db:3306/shop"}
        )
    message = str(caught.value)
    assert "%40" in message
    assert secret not in message
    assert len(message.splitlines()) == 1
