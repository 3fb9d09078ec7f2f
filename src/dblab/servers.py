"""Server administration: the one place the kit creates and drops databases.

Everything that needs the *server* rather than a database lives here:

- the maintenance URL of a database URL (where CREATE DATABASE runs);
- the login that prefixes the kit's names (``dblab_<login>_...``), so that
  learners sharing one server never meet;
- CREATE / DROP DATABASE (AUTOCOMMIT on PostgreSQL, ``WITH (FORCE)`` when
  a connection lingers; a new PostgreSQL database has CONNECT and TEMP
  revoked from PUBLIC, so only its owner and superusers get in);
- whether a database exists, the kit's databases on a server, and
  emptying a database (drop every table);
- :class:`KitDatabase`, the base of sandboxes and deploy targets;
- which tables are the kit's own (``dblab_*``), not the app's.
"""

from __future__ import annotations

import getpass
import re
import secrets
from pathlib import Path
from typing import Self

from sqlalchemy import Engine, MetaData, create_engine, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.database import make_engine
from dblab import settings

PREFIX = "dblab_"
KIT_TABLE_PREFIX = "dblab_"
"""The kit's own tables in an app database (``dblab_target_identity``,
``dblab_batch_progress``): not the app's schema, so schema pictures,
fingerprints and ``alembic check`` (``migrations/env.py``) leave them out.
"""
MAX_NAME = 63  # PostgreSQL's identifier limit (MariaDB's is 64)
MAX_LOGIN = 20


def kit_table(name: str | None) -> bool:
    """Is ``name`` one of the kit's own tables (see ``KIT_TABLE_PREFIX``)?"""
    return bool(name) and name.startswith(KIT_TABLE_PREFIX)


def maintenance_url(url: URL) -> URL:
    """The URL on which to run CREATE/DROP DATABASE for ``url``'s server."""
    if url.get_backend_name() == "postgresql":
        return url.set(database="postgres")
    return URL.create(  # URL.set(database=None) would keep the name
        url.drivername,
        username=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        query=url.query,
    )


def login(url: URL | None) -> str:
    """The learner's login as it appears in names: ``[a-z0-9]``, ≤ 20.

    The URL's user name lowercased with other characters dropped; a name
    with none left (``学習者``) is hex-escaped instead. Without a user in
    the URL (SQLite, or a server reached as the OS user) the OS login.
    """
    user = (url.username if url is not None else None) or _os_user()
    kept = re.sub(r"[^a-z0-9]", "", user.lower())
    if not kept:
        kept = "x" + user.encode("utf-8").hex()
    return kept[:MAX_LOGIN]


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "learner"


def own_prefix(url: URL | None) -> str:
    """``dblab_<login>_``: the start of every name this account makes."""
    return f"{PREFIX}{login(url)}_"


def sandbox_name(purpose: str, url: URL | None = None) -> str:
    """``dblab_<login>_<purpose>_<random>``, at most 63 characters."""
    start = own_prefix(url)
    room = MAX_NAME - len(start) - 9  # "_" + 8 hex digits
    slug = re.sub(r"[^a-z0-9]+", "_", purpose.lower()).strip("_")
    slug = slug[: min(30, room)].strip("_") or "sandbox"
    return f"{start}{slug}_{secrets.token_hex(4)}"


def target_prefix(url: URL | None) -> str:
    """``dblab_<login>_target``: deploy targets are ``<prefix>_<env>``."""
    return f"{own_prefix(url)}target"


def admin_engine(server: URL) -> Engine:
    """An AUTOCOMMIT engine on the maintenance database (CREATE/DROP)."""
    return create_engine(
        server,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args=settings.connect_args(server),
    )


def _quote(server: URL, name: str) -> str:
    if server.get_backend_name() == "mysql":
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def create_database(server: URL, name: str) -> None:
    """Create database ``name`` on ``server`` (after checking it answers).

    On PostgreSQL, CONNECT and TEMPORARY are revoked from PUBLIC, so
    another learner's role cannot open it (the owner and superusers can).
    """
    settings.check_reachable(server)
    quoted = _quote(server, name)
    engine = admin_engine(server)
    try:
        with engine.connect() as connection:
            if server.get_backend_name() == "mysql":
                connection.execute(
                    text(f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4")
                )
            else:
                connection.execute(text(f"CREATE DATABASE {quoted}"))
                connection.execute(
                    text(
                        f"REVOKE CONNECT, TEMPORARY ON DATABASE {quoted} "
                        "FROM PUBLIC"
                    )
                )
    finally:
        engine.dispose()


def drop_database(server: URL, name: str) -> None:
    """Drop database ``name`` on ``server``, even with connections left."""
    quoted = _quote(server, name)
    engine = admin_engine(server)
    try:
        with engine.connect() as connection:
            if server.get_backend_name() == "mysql":
                connection.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
            else:
                connection.execute(
                    text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
                )
    finally:
        engine.dispose()


def exists(server: URL, name: str) -> bool:
    """Whether database ``name`` exists on ``server`` (as this account sees).

    On MariaDB an account sees only the databases it has privileges on.
    """
    if server.get_backend_name() == "postgresql":
        query = "SELECT 1 FROM pg_database WHERE datname = :name"
    else:
        query = (
            "SELECT 1 FROM information_schema.schemata "
            "WHERE schema_name = :name"
        )
    engine = admin_engine(server)
    try:
        with engine.connect() as connection:
            row = connection.execute(text(query), {"name": name}).first()
    finally:
        engine.dispose()
    return row is not None


def databases(server: URL, *, droppable: bool = True) -> list[str]:
    """Names of the ``dblab_`` databases on ``server``, sorted.

    ``droppable`` keeps on PostgreSQL only those this role may drop (its
    own; all of them for a superuser); on MariaDB an account lists only
    databases it has privileges on anyway.
    """
    settings.check_reachable(server)
    if server.get_backend_name() == "mysql":
        query = "SELECT schema_name FROM information_schema.schemata"
    elif droppable:
        query = (
            "SELECT datname FROM pg_database"
            " WHERE pg_has_role(current_user, datdba, 'MEMBER')"
        )
    else:
        query = "SELECT datname FROM pg_database"
    engine = admin_engine(server)
    try:
        with engine.connect() as connection:
            names = connection.execute(text(query)).scalars().all()
    finally:
        engine.dispose()
    return sorted(
        name
        for name in names
        if name.startswith(PREFIX) and name != server.database
    )


def is_admin(server: URL) -> bool:
    """Whether the account may drop every database of the server.

    A PostgreSQL superuser, or a MariaDB account with the global DROP
    privilege (``GRANT ... ON *.*``).
    """
    if server.get_backend_name() == "postgresql":
        query = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
    else:
        query = (
            "SELECT COUNT(*) > 0 FROM information_schema.user_privileges"
            " WHERE privilege_type = 'DROP' AND grantee = CONCAT("
            "\"'\", SUBSTRING_INDEX(CURRENT_USER(), '@', 1), \"'@'\","
            " SUBSTRING_INDEX(CURRENT_USER(), '@', -1), \"'\")"
        )
    engine = admin_engine(server)
    try:
        with engine.connect() as connection:
            return bool(connection.execute(text(query)).scalar())
    finally:
        engine.dispose()


def drop_tables(engine: Engine) -> None:
    """Drop every table of a database (its views and types stay)."""
    preparer = engine.dialect.identifier_preparer
    with engine.begin() as connection:
        names = inspect(connection).get_table_names()
        if not names:
            return
        listed = ", ".join(preparer.quote(name) for name in names)
        if engine.dialect.name == "sqlite":  # one table at a time
            tables = MetaData()
            tables.reflect(connection)
            for table in reversed(tables.sorted_tables):  # children first
                table.drop(connection)
        elif engine.dialect.name == "mysql":
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
            connection.exec_driver_sql(f"DROP TABLE {listed}")
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
        else:
            connection.exec_driver_sql(f"DROP TABLE {listed} CASCADE")
    engine.dispose()


def cache_options(cache_statements: bool) -> dict[str, int]:
    """Engine options: SQLAlchemy's statement cache, or none at all."""
    return {} if cache_statements else {"query_cache_size": 0}


class KitDatabase:
    """A database the kit created: a name, a URL, an engine, a folder.

    The base of :class:`dblab.sandbox.Sandbox` (``close()`` drops it) and
    :class:`dblab.targets.Target` (``close()`` only disposes the engine).
    ``server`` is the maintenance URL it was created on (None for SQLite).
    """

    kind = "Database"

    def __init__(
        self,
        name: str,
        url: URL,
        folder: Path,
        server: URL | None,
        engine: Engine | None = None,
        *,
        cache_statements: bool = True,
    ) -> None:
        self.name = name
        self.url = url
        self.folder = folder
        self.server = server
        self.engine: Engine = engine or make_engine(
            url,
            connect_args=settings.connect_args(url),
            **cache_options(cache_statements),
        )
        self.closed = False

    @property
    def backend(self) -> str:
        """``sqlite``, ``postgresql`` or ``mysql``."""
        return self.url.get_backend_name()

    @property
    def label(self) -> str:
        """The backend as a learner would name it."""
        return settings.BACKENDS[self.backend]

    def session(self) -> Session:
        """A new ORM session on this database."""
        return Session(self.engine)

    def close(self) -> None:
        """Release the engine's connections (subclasses say what else)."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        shown = self.url.render_as_string(hide_password=True)
        return f"{self.kind}({self.name!r}, {self.label}, {shown!r})"
