"""Restores: into a new database, over the original, into another one.

:func:`restore` loads a backup into a NEW database (a sandbox);
:func:`restore_in_place` brings the database the backup came from back
to it; :func:`copy_into` replaces another database's data with it (a
rehearsal's staging); :func:`verify_backup` restores into a scratch
database and compares fingerprints.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from dblab import sandbox as sandboxes
from dblab import settings
from dblab.safety.backups import Backup
from dblab.safety.databases import (
    BackupError,
    Database,
    database_name,
    engine_of,
)
from dblab.safety.fingerprints import Fingerprint, fingerprint
from dblab.safety.tools import (
    TOOLS,
    Tools,
    client_options,
    find_tool,
    load_mysql,
    run_tool,
    set_mysql_charset,
    sqlite_read_only,
)
from dblab.sandbox import Sandbox
from dblab.servers import KitDatabase


def restore(
    item: str | Path | Backup,
    server: URL | Database | None = None,
    *,
    tools: Tools = None,
) -> Sandbox:
    """Restore into a NEW database beside ``server``; ``close()`` drops it."""
    item = Backup.open(item)
    server_url = server_for(item, server)
    programs = {n: find_tool(n, tools) for n in TOOLS.get(item.backend, ())}
    box = sandboxes.create(f"restore_{item.database}", server=server_url)
    try:
        if item.backend == "sqlite":
            with (
                closing(sqlite_read_only(str(item.path))) as source,
                closing(sqlite3.connect(box.url.database)) as target,
            ):
                source.backup(target)
        elif item.backend == "postgresql":
            args, env = client_options(box.url)
            options = ["--no-owner", "--no-privileges", "--exit-on-error"]
            options += ["--single-transaction", "-d", box.name]
            program = programs["pg_restore"]
            run_tool([program, *args, *options, str(item.path)], env)
        else:
            set_mysql_charset(box.engine, box.name, item.charset)
            load_mysql(programs["mariadb"], box.url, box.name, item.path)
    except BaseException:
        box.close()
        raise
    return box


def restore_in_place(
    item: str | Path | Backup,
    db: Database,
    *,
    tools: Tools = None,
    server: URL | None = None,
) -> Fingerprint:
    """Bring ``db`` back to the backup: drop, recreate, load, compare.

    For PostgreSQL and MariaDB the database is dropped and created again
    under its own name (``pg_restore --create`` on PostgreSQL); SQLite is
    overwritten page by page with the online backup API. ``server`` is a
    maintenance URL on the same server (default: the sandbox's server, or
    ``postgres`` / no database). The engine keeps working afterwards.
    """
    item = Backup.open(item)
    engine = engine_of(db)
    url = engine.url
    backend = url.get_backend_name()
    if backend != item.backend:
        raise BackupError(
            f"{item.path.name} は {settings.BACKENDS[item.backend]} の"
            f"バックアップです (backup is for {item.backend}, not {backend})"
        )
    name = database_name(db)
    if backend != "sqlite" and name != item.database:
        raise BackupError(
            f"{item.path.name} はデータベース {item.database} のバックアップ"
            f"です (backup of {item.database}, not {name})"
        )
    programs = {n: find_tool(n, tools) for n in TOOLS.get(backend, ())}
    if server is None and isinstance(db, KitDatabase):
        server = db.server
    if server is None or server.database in (None, name):
        server = url.set(
            database="postgres" if backend == "postgresql" else None
        )
    engine.dispose()
    if backend == "sqlite":
        with (
            closing(sqlite_read_only(str(item.path))) as source,
            closing(sqlite3.connect(url.database)) as target,
        ):
            source.backup(target)
    else:
        sandboxes.drop_database(server, name)
        if backend == "postgresql":
            args, env = client_options(server)
            options = ["--create", "--exit-on-error", "-d", server.database]
            run_tool(
                [programs["pg_restore"], *args, *options, str(item.path)], env
            )
        else:
            admin = sandboxes.admin_engine(server)
            try:
                with admin.connect() as connection:
                    quoted = admin.dialect.identifier_preparer.quote(name)
                    connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
                set_mysql_charset(admin, name, item.charset)
            finally:
                admin.dispose()
            load_mysql(programs["mariadb"], url, name, item.path)
    engine.dispose()
    after = fingerprint(engine)
    differences = item.fingerprint.differences(after)
    if differences:
        raise BackupError(
            "復元後の指紋がバックアップと一致しません (fingerprint mismatch "
            f"after restore): {'; '.join(differences)}"
        )
    return after


@dataclass(frozen=True)
class Verification:
    """What a trial restore showed."""

    ok: bool
    differences: tuple[str, ...]
    fingerprint: Fingerprint
    seconds: float


def verify_backup(
    item: str | Path | Backup,
    server: URL | Database | None = None,
    *,
    tools: Tools = None,
) -> Verification:
    """Restore into a scratch database and compare its fingerprint."""
    started = time.perf_counter()
    item = Backup.open(item)
    box = restore(item, server, tools=tools)
    try:
        restored = fingerprint(box.engine)
    finally:
        box.close()
    differences = tuple(item.fingerprint.differences(restored))
    return Verification(
        not differences, differences, restored, time.perf_counter() - started
    )


# -- tools and databases -----------------------------------------------------


def server_for(item: Backup, server: URL | Database | None) -> URL:
    if item.backend == "sqlite":
        return URL.create("sqlite")
    if isinstance(server, KitDatabase):
        server = server.server or server.url
    elif isinstance(server, Engine):
        server = server.url
    if server is None:
        server = settings.database_url()
    if server.get_backend_name() != item.backend:
        raise BackupError(
            f"{item.path.name} を復元する {settings.BACKENDS[item.backend]} "
            "のサーバーを指定してください (server= of the same backend)"
        )
    return server


def copy_into(
    item: str | Path | Backup, other: Sandbox, *, tools: Tools = None
) -> Fingerprint:
    """Replace ``other``'s data with the backup of ANOTHER database.

    ``other`` is a database the kit keeps for the purpose (a rehearsal's
    staging): its tables are dropped, the dump is loaded, and the result
    must have the backup's fingerprint.
    """
    from dblab import targets  # targets sits beside sandbox

    item = Backup.open(item)
    if other.backend == "sqlite":
        return restore_in_place(item, other, tools=tools)
    name = str(other.url.database)
    targets.drop_tables(other.engine)
    other.engine.dispose()
    args, env = client_options(other.url)
    if other.backend == "postgresql":
        program = find_tool("pg_restore", tools)
        options = ["--no-owner", "--no-privileges", "--exit-on-error"]
        options += ["--single-transaction", "-d", name, str(item.path)]
        run_tool([program, *args, *options], env)
    else:
        load_mysql(find_tool("mariadb", tools), other.url, name, item.path)
    other.engine.dispose()
    after = fingerprint(other)
    differences = item.fingerprint.differences(after)
    if differences:
        raise BackupError(
            f"{name} へのコピーが元と一致しません (copy mismatch): "
            + "; ".join(differences)
        )
    return after
