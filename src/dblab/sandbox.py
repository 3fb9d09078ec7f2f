"""A fresh, isolated database for one notebook or one test.

On SQLite a sandbox is a file in its own folder under the kit's work
folder; on PostgreSQL or MariaDB it is a new database named
``dblab_<purpose>_<random>`` beside the maintenance database of the server
URL. With ``migrations=True`` the folder also holds a private copy of the
kit's ``migrations/``, so a learner can add revisions without touching the
repository. ``close()`` drops the database and removes the folder;
re-running a notebook never meets an earlier run's database.
"""

from __future__ import annotations

import atexit
import re
import secrets
import shutil
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.database import make_engine
from dblab import settings


class Sandbox:
    """One throw-away database, with a folder for files that belong to it."""

    def __init__(
        self,
        name: str,
        url: URL,
        folder: Path,
        server: URL | None,
        *,
        transactional_sqlite: bool = True,
    ) -> None:
        self.name = name
        self.url = url
        self.folder = folder
        self.server = server
        if transactional_sqlite:
            self.engine: Engine = make_engine(
                url, connect_args=settings.connect_args(url)
            )
        else:
            self.engine = create_engine(url)
        self.closed = False
        atexit.register(self.close)

    @property
    def backend(self) -> str:
        """``sqlite``, ``postgresql`` or ``mysql``."""
        return self.url.get_backend_name()

    @property
    def label(self) -> str:
        """The backend as a learner would name it."""
        return settings.BACKENDS[self.backend]

    @property
    def migrations(self) -> Path:
        """This sandbox's private copy of ``migrations/``."""
        path = self.folder / "migrations"
        if not path.exists():
            raise FileNotFoundError(
                f"{self.name} は migrations のコピーを持っていません "
                "(create the sandbox with migrations=True)"
            )
        return path

    def session(self) -> Session:
        """A new ORM session on this sandbox."""
        return Session(self.engine)

    def close(self) -> None:
        """Drop the database and remove the folder (safe to call twice)."""
        if self.closed:
            return
        self.closed = True
        self.engine.dispose()
        if self.server is not None:
            drop_database(self.server, self.name)
        shutil.rmtree(self.folder, ignore_errors=True)
        atexit.unregister(self.close)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        shown = self.url.render_as_string(hide_password=True)
        return f"Sandbox({self.name!r}, {self.label}, {shown!r}, {state})"


def create(
    purpose: str,
    *,
    server: URL | None = None,
    migrations: bool = False,
    transactional_sqlite: bool = True,
) -> Sandbox:
    """Create a sandbox on ``server`` (default: ``DBLAB_DATABASE_URL``).

    ``transactional_sqlite=False`` keeps the sqlite3 driver's own
    transaction handling, which does not roll back DDL (notebook 08 shows
    the difference).
    """
    if server is None:
        server = settings.database_url()
    name = sandbox_name(purpose)
    folder = settings.work_dir() / "sandboxes" / name
    folder.mkdir(parents=True)
    if migrations:
        shutil.copytree(
            settings.MIGRATIONS,
            folder / "migrations",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    if server.get_backend_name() == "sqlite":
        url = URL.create("sqlite", database=str(folder / "database.sqlite"))
        return Sandbox(
            name,
            url,
            folder,
            None,
            transactional_sqlite=transactional_sqlite,
        )
    try:
        create_database(server, name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    url = server.set(database=name)
    if server.get_backend_name() == "mysql" and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return Sandbox(name, url, folder, server)


def sandbox_name(purpose: str) -> str:
    """``dblab_<purpose>_<random>``, safe as a database and folder name."""
    slug = re.sub(r"[^a-z0-9]+", "_", purpose.lower()).strip("_")[:30]
    return f"dblab_{slug or 'sandbox'}_{secrets.token_hex(4)}"


def admin_engine(server: URL) -> Engine:
    """An AUTOCOMMIT engine on the maintenance database (CREATE/DROP)."""
    return create_engine(
        server,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args=settings.connect_args(server),
    )


def create_database(server: URL, name: str) -> None:
    """Create database ``name`` on ``server`` (after checking it answers)."""
    settings.check_reachable(server)
    engine = admin_engine(server)
    try:
        with engine.connect() as connection:
            if server.get_backend_name() == "mysql":
                connection.execute(
                    text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
                )
            else:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def drop_database(server: URL, name: str) -> None:
    """Drop database ``name`` on ``server``, even with connections left."""
    engine = admin_engine(server)
    try:
        with engine.connect() as connection:
            if server.get_backend_name() == "mysql":
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            else:
                connection.execute(
                    text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                )
    finally:
        engine.dispose()
