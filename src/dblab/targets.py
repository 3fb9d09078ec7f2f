"""Named deployment targets: ``dev``, ``staging`` and ``production``.

The analogue of dbt's ``--target``: one name, one database.

- On SQLite each target is a file ``<work>/targets/<prefix>/<name>.sqlite``.
- On PostgreSQL or MariaDB each target is a database ``<prefix>_<name>``
  beside the maintenance database of ``DBLAB_DATABASE_URL``.

``prefix`` is ``dblab_<login>_target`` (``<login>`` from the URL's user,
so learners sharing a server each have their own three targets;
override: ``DBLAB_TARGET_PREFIX``): learner01's production database is
``dblab_learner01_target_production``. A single target can be pointed
elsewhere with ``DBLAB_TARGET_<NAME>_URL``.

``migrations/env.py`` resolves ``-x target=NAME`` (or ``DBLAB_TARGET``)
through :func:`url` -- the one place the naming convention lives.
Unlike a sandbox, a :class:`Target` is never dropped by ``close()``.

:func:`prepare` writes an identity row into each target it creates (the
kit table ``dblab_target_identity``: environment name, a random id, the
time): two URLs that reach one database read the same row, however they
are spelled (``dblab.deploy.identity`` compares them).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from dblab import migrate, servers, settings
from dblab.errors import DblabError

NAMES = ("dev", "staging", "production")


class TargetError(DblabError):
    """A target name or target URL cannot be used."""


IDENTITY = sa.Table(
    "dblab_target_identity",
    sa.MetaData(),
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("environment", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
"""One row per target: which environment this database is (a kit table,
left out of the app's schema checks: see ``servers.kit_table``)."""


class IdentityRow(NamedTuple):
    """A target's identity row: what ``prepare()`` wrote into it."""

    id: str
    environment: str
    created_at: dt.datetime


class Target(servers.KitDatabase):
    """A long-lived database with a name; ``close()`` only disposes it.

    ``folder`` is the target set's folder (SQLite files, backups,
    rehearsal records); nothing of it is removed by ``close()``.
    """

    kind = "Target"


def write_identity(
    engine: Engine, environment: str, *, again: IdentityRow | None = None
) -> IdentityRow:
    """Make ``engine``'s database say it is ``environment`` (one row).

    ``again``: an earlier row of this target to write back (a copy of
    production loaded into staging gets staging's own row back);
    default: a new random id, now.
    """
    row = IdentityRow(
        secrets.token_hex(16),
        check_name(environment),
        dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
    )
    if again is not None and again.environment == environment:
        row = again
    with engine.begin() as connection:
        IDENTITY.create(connection, checkfirst=True)
        connection.execute(sa.delete(IDENTITY))
        connection.execute(sa.insert(IDENTITY).values(**row._asdict()))
    return row


def read_identity(url: URL) -> IdentityRow | None:
    """The identity row of the database ``url`` reaches.

    None when there is none to read: the database (or SQLite file) does
    not exist, or it was made without the row (an older kit, a database
    the kit did not create). Nothing is created by looking.
    """
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not url.database or url.database == ":memory:":
            return None
        if not path.is_file():
            return None
    engine = sa.create_engine(
        url, poolclass=NullPool, connect_args=settings.connect_args(url)
    )
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(IDENTITY.name):
                return None
            rows = connection.execute(
                sa.select(*IDENTITY.c).order_by(IDENTITY.c.created_at)
            ).all()
    except sa.exc.OperationalError:
        return None  # no such database (checked again, with a message)
    finally:
        engine.dispose()
    if len(rows) != 1:
        return None  # emptied, or rows pasted in by hand: not usable
    return IdentityRow(*rows[0])


def prefix(server: URL | None = None) -> str:
    """``DBLAB_TARGET_PREFIX``, or ``dblab_<login>_target`` for ``server``.

    ``server`` defaults to ``DBLAB_DATABASE_URL``.
    """
    value = os.environ.get("DBLAB_TARGET_PREFIX", "").strip()
    if value and not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", value):
        raise TargetError(
            f"DBLAB_TARGET_PREFIX {value!r} は英小文字・数字・_ にしてくだ"
            "さい (invalid prefix)"
        )
    if value:
        return value
    return servers.target_prefix(server or settings.database_url())


def check_name(name: str) -> str:
    """``name`` if it is a known target, else one line naming the three."""
    if name not in NAMES:
        raise TargetError(
            f"ターゲット {name!r} はありません (unknown target)。"
            f"{' / '.join(NAMES)} のどれかを指定してください。"
        )
    return name


def url(
    name: str, *, server: URL | None = None, prefix_: str | None = None
) -> URL:
    """The database URL of target ``name``."""
    check_name(name)
    override = os.environ.get(f"DBLAB_TARGET_{name.upper()}_URL", "").strip()
    if override:
        return settings.parse_url(override, f"DBLAB_TARGET_{name.upper()}_URL")
    server = server or settings.database_url()
    label = prefix_ or prefix(server)
    if server.get_backend_name() == "sqlite":
        folder = settings.work_dir() / "targets" / label
        folder.mkdir(parents=True, exist_ok=True)
        return URL.create("sqlite", database=str(folder / f"{name}.sqlite"))
    found = server.set(database=f"{label}_{name}")
    if server.get_backend_name() == "mysql" and "charset" not in found.query:
        found = found.update_query_dict({"charset": "utf8mb4"})
    return found


@dataclass
class Targets:
    """The three targets on one server, with one versions folder.

    ``urls`` overrides single targets (tests, a real staging server);
    ``migrations`` is the ``migrations/`` folder every step uses.
    """

    server: URL = field(default_factory=settings.database_url)
    prefix: str = ""
    migrations: Path = settings.MIGRATIONS
    urls: dict[str, URL] = field(default_factory=dict)
    _open: dict[str, Target] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.prefix:
            self.prefix = prefix(self.server)

    @property
    def backend(self) -> str:
        return self.server.get_backend_name()

    @property
    def folder(self) -> Path:
        """``<work>/targets/<prefix>``: SQLite files, rehearsal records."""
        path = settings.work_dir() / "targets" / self.prefix
        path.mkdir(parents=True, exist_ok=True)
        return path

    def url(self, name: str) -> URL:
        check_name(name)
        if name in self.urls:
            return self.urls[name]
        return url(name, server=self.server, prefix_=self.prefix)

    def __getitem__(self, name: str) -> Target:
        """The open target ``name`` (the database must exist)."""
        check_name(name)
        if name not in self._open:
            found = self.url(name)
            server = None
            if found.get_backend_name() != "sqlite":
                server = self.server
                if server.get_backend_name() == "sqlite":
                    server = servers.maintenance_url(found)
            self._open[name] = Target(name, found, self.folder, server)
        return self._open[name]

    def options(self, **extra: object) -> dict[str, object]:
        """Keyword options for ``dblab.migrate`` (the versions folder)."""
        return {"script_location": self.migrations, **extra}

    def exists(self, name: str) -> bool:
        found = self.url(name)
        if found.get_backend_name() == "sqlite":
            return Path(found.database or "").is_file()
        server = self[name].server or self.server
        return servers.exists(server, str(found.database))

    def create(self, name: str) -> Target:
        """Make ``name`` an empty database (emptied if it exists).

        Dropping the tables of an existing database is much faster on a
        server than DROP DATABASE + CREATE DATABASE.
        """
        target = self[name]
        target.engine.dispose()
        if target.backend == "sqlite":
            Path(target.url.database or "").unlink(missing_ok=True)
            with target.engine.connect():
                pass  # the file exists from now on
        elif self.exists(name):
            servers.drop_tables(target.engine)
        else:
            servers.create_database(target.server, target.url.database)
        return target

    def close(self) -> None:
        """Dispose every engine (the databases stay)."""
        for target in self._open.values():
            target.close()

    def drop(self) -> None:
        """Remove the three databases and the folder (tests, notebooks)."""
        for name in NAMES:
            if name in self.urls:
                continue
            target = self[name]
            target.engine.dispose()
            if target.backend != "sqlite":
                servers.drop_database(target.server, target.url.database)
        self._open.clear()
        shutil.rmtree(self.folder, ignore_errors=True)


def prepare(
    targets: Targets,
    *,
    revision: str = "heads",
    users: int | None = None,
    seed: int = 0,
) -> dict[str, int]:
    """Create the three targets at ``revision``; seed production.

    dev stays empty (a developer's laptop), staging is empty until a
    rehearsal copies production into it, production gets realistic rows
    (``users`` defaults to 20 000, 300 under ``DBLAB_SCALE=test``) plus a
    tenth as many employees and two addresses per person. Each target
    gets its identity row (:func:`write_identity`).
    """
    from dblab import seed as seeder

    for name in NAMES:
        target = targets.create(name)
        migrate.upgrade(target, revision, **targets.options())
        write_identity(target.engine, name)
    count = users if users is not None else settings.scaled(20_000, 300)
    return seeder.app_data(
        targets["production"].engine,
        users=count,
        employees=max(1, count // 10),
        addresses_per_user=2,
        seed=seed,
    )
