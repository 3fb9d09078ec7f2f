"""The databases ``dblab bench`` measures, and fresh tables on each.

SQLite always; PostgreSQL and MariaDB / MySQL when ``DBLAB_POSTGRES_URL``
/ ``DBLAB_MYSQL_URL`` name them. Each measurement starts from empty
tables: a new SQLite file, or on a server the run's one sandbox database
with every table dropped.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import URL

from app.models import Base
from dblab import migrate, sandbox, servers, settings
from dblab.errors import SettingsError

DRIVER_PACKAGES = {
    "psycopg": "psycopg",
    "psycopg2": "psycopg2-binary",
    "pymysql": "PyMySQL",
    "mysqlconnector": "mysql-connector-python",
}


@dataclasses.dataclass
class MeasuredDatabase:
    """One database server (or SQLite) under measurement, and its versions.

    On a server, ``box`` is the run's one sandbox, created on first use
    and dropped by :meth:`close`.
    """

    backend: str  # sqlite | postgresql | mysql
    server_url: URL | None
    label: str
    server: str
    driver: str
    box: sandbox.Sandbox | None = dataclasses.field(default=None, repr=False)

    @property
    def versions(self) -> str:
        return f"SQLAlchemy {sa.__version__}, {self.driver}, {self.server}"

    def close(self) -> None:
        """Drop the run's sandbox database, if one was created."""
        if self.box is not None:
            self.box.close()
            self.box = None


def backends(chosen: list[str] | None) -> list[str]:
    """The backends asked for, or SQLite and every configured server."""
    if chosen:
        return chosen
    names = ["sqlite"]
    if settings.postgres_url() is not None:
        names.append("postgresql")
    if settings.mysql_url() is not None:
        names.append("mysql")
    return names


def connect(backend: str) -> MeasuredDatabase:
    """Connect once to learn the server and driver versions."""
    if backend == "sqlite":
        return MeasuredDatabase(
            "sqlite",
            URL.create("sqlite"),
            "SQLite",
            f"SQLite {sqlite3.sqlite_version}",
            f"sqlite3 (Python {platform.python_version()})",
        )
    if backend == "postgresql":
        url, variable = settings.postgres_url(), "DBLAB_POSTGRES_URL"
    else:
        url, variable = settings.mysql_url(), "DBLAB_MYSQL_URL"
    if url is None:
        raise SettingsError(
            f"{variable} が設定されていません (no URL for {backend})"
        )
    version = settings.check_reachable(url)
    engine = sa.create_engine(url)
    driver = engine.dialect.driver
    engine.dispose()
    try:
        package = DRIVER_PACKAGES.get(driver, driver)
        driver_version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        driver_version = "?"
    if backend == "postgresql":
        label = "PostgreSQL"
        server = f"PostgreSQL {version.split()[1]}"
    else:
        label = "MariaDB" if "mariadb" in version.lower() else "MySQL"
        server = f"{label} {version.split('-')[0]}"
    return MeasuredDatabase(
        backend, url, label, server, f"{driver} {driver_version}"
    )


@contextmanager
def fresh(
    database: MeasuredDatabase, purpose: str, *, to: str | None = None
) -> Iterator[sandbox.Sandbox]:
    """Empty tables for one measurement: the app's models, or revision ``to``.

    On SQLite a new file each time; on a server the run's one sandbox
    database with every table dropped (creating a database per
    measurement costs more than most of the measurements).
    """
    if database.backend == "sqlite":
        box = sandbox.create(purpose, server=database.server_url)
    else:
        if database.box is None:
            database.box = sandbox.create("bench", server=database.server_url)
        box = database.box
        servers.drop_tables(box.engine)
    try:
        if to is None:
            Base.metadata.create_all(box.engine)
        else:
            migrate.upgrade(box, to)
        yield box
    finally:
        if database.backend == "sqlite":
            box.close()


def count_rows(box: sandbox.Sandbox, where: str = "") -> int:
    """``SELECT count(*) FROM users`` (with an optional SQL condition)."""
    query = "SELECT count(*) FROM users"
    if where:
        query += f" WHERE {where}"
    with box.engine.connect() as connection:
        return connection.execute(sa.text(query)).scalar_one()


def analyze(box: sandbox.Sandbox) -> None:
    """Statistics for the planner, as a production table has them.

    Freshly seeded, PostgreSQL has none and plans each batch's
    ``email IS NULL`` through the e-mail index (reading every NULL entry
    per batch, several times slower); autovacuum would analyze it soon
    after.
    """
    statement = {"postgresql": "ANALYZE users", "mysql": "ANALYZE TABLE users"}
    with box.engine.connect() as connection:
        connection.exec_driver_sql(statement.get(box.backend, "ANALYZE"))
        connection.commit()


def expect_rows(box: sandbox.Sandbox, size: int) -> None:
    """Stop the run if a measurement did not leave ``size`` users."""
    found = count_rows(box)
    if found != size:
        raise RuntimeError(f"expected {size} users, found {found}")


def machine() -> str:
    """The first line of the output: where the figures were measured."""
    return (
        f"dblab bench — このマシンでの実測 (this machine): "
        f"{platform.system()} {platform.machine()}, "
        f"{os.cpu_count() or 1} CPU, Python {platform.python_version()}"
    )
