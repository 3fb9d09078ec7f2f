"""Restores: into a new database, over the original, into another one.

:func:`restore` loads a backup into a NEW database (a sandbox);
:func:`restore_in_place` brings the database the backup came from back
to it; :func:`copy_into` replaces another database's data with it (a
rehearsal's staging); :func:`verify_backup` restores into a scratch
database and compares fingerprints.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from dblab import sandbox as sandboxes
from dblab import servers, settings
from dblab.safety import mariadb_swap
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
            _load_sqlite(item.path, Path(str(box.url.database)))
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
    """Bring ``db`` back to the backup: load it beside, verify, then swap.

    Nothing is dropped first. The dump is loaded into a fresh database
    (or file) on the same server and its fingerprint checked against the
    manifest; a dump that fails to load, or loads wrong, leaves ``db``
    untouched and raises :class:`BackupError` with the tool's message.
    Then the swap, per backend:

    - PostgreSQL: ``db`` stops taking connections, its sessions are
      ended (writers are cut off for the swap), it is renamed aside, the
      fresh database takes its name, the old one is dropped;
    - MariaDB (no RENAME DATABASE): one multi-table ``RENAME TABLE``
      moves the old tables aside and the loaded ones in, atomically
      (writers wait on the tables' metadata locks); the dump's views and
      triggers are created anew (:mod:`dblab.safety.mariadb_swap`);
    - SQLite: the online backup API copies the loaded file into the open
      one in a single transaction (replacing an open file fails on
      Windows).

    Every write to ``db`` since the backup is discarded: see
    :func:`dblab.safety.discards.since_backup`. ``server`` is a
    maintenance URL on the same server (default: the sandbox's server,
    or ``postgres`` / no database). The engine keeps working afterwards.
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
    if server is None and isinstance(db, KitDatabase):
        server = db.server
    if server is None or server.database in (None, name):
        server = servers.maintenance_url(url)
    fresh = restore(item, server, tools=tools)
    try:
        loaded = fingerprint(fresh.engine)
        differences = item.fingerprint.differences(loaded)
        if differences:
            raise BackupError(
                "読み込んだバックアップが記録と一致しません。元のデータベースは"
                "そのままです (loaded copy does not match the manifest; "
                f"original untouched): {'; '.join(differences)}"
            )
        fresh.engine.dispose()
        engine.dispose()
        if backend == "sqlite":
            _copy_sqlite(Path(str(fresh.url.database)), Path(url.database))
        elif backend == "postgresql":
            _swap_postgresql(server, name, fresh.name)
        else:
            mariadb_swap.swap(server, name, fresh.name)
    finally:
        fresh.close()
    engine.dispose()
    return loaded


def _load_sqlite(dump: Path, target: Path) -> None:
    """Copy a SQLite dump into a new file; a damaged one is one line."""
    try:
        with (
            closing(sqlite_read_only(str(dump))) as source,
            closing(sqlite3.connect(target)) as copy,
        ):
            verdict = source.execute("PRAGMA integrity_check").fetchone()
            if verdict[0] != "ok":
                raise sqlite3.DatabaseError(verdict[0])
            source.backup(copy)
    except sqlite3.Error as error:
        raise BackupError(
            f"SQLite のバックアップ {dump.name} を読み込めません "
            f"(cannot load: {error})"
        ) from None


def _copy_sqlite(source: Path, target: Path) -> None:
    with (
        closing(sqlite_read_only(str(source))) as reader,
        closing(sqlite3.connect(target, timeout=30)) as writer,
    ):
        reader.backup(writer)


def _swap_postgresql(server: URL, name: str, fresh: str) -> None:
    aside = f"{name[:40]}_old_{secrets.token_hex(4)}"
    admin = servers.admin_engine(server)
    quote = admin.dialect.identifier_preparer.quote
    end_sessions = sa.text(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = :name AND pid <> pg_backend_pid()"
    )
    try:
        with admin.connect() as connection:
            connection.execute(
                sa.text(
                    f"ALTER DATABASE {quote(name)} ALLOW_CONNECTIONS false"
                )
            )
            try:
                for _ in range(50):  # a session may take a moment to end
                    connection.execute(end_sessions, {"name": name})
                    try:
                        connection.execute(
                            sa.text(
                                f"ALTER DATABASE {quote(name)} "
                                f"RENAME TO {quote(aside)}"
                            )
                        )
                        break
                    except sa.exc.OperationalError:
                        time.sleep(0.1)
                else:
                    raise BackupError(
                        f"{name} の接続が切れないため入れ替えられません "
                        "(sessions would not end; nothing swapped)"
                    )
            except BaseException:
                connection.execute(
                    sa.text(
                        f"ALTER DATABASE {quote(name)} ALLOW_CONNECTIONS true"
                    )
                )
                raise
            connection.execute(end_sessions, {"name": fresh})
            connection.execute(
                sa.text(
                    f"ALTER DATABASE {quote(fresh)} RENAME TO {quote(name)}"
                )
            )
    finally:
        admin.dispose()
    servers.drop_database(server, aside)


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
    item: str | Path | Backup, other: KitDatabase, *, tools: Tools = None
) -> Fingerprint:
    """Replace ``other``'s data with the backup of ANOTHER database.

    ``other`` is a database the kit keeps for the purpose (a rehearsal's
    staging): its tables are dropped, the dump is loaded, and the result
    must have the backup's fingerprint.
    """

    item = Backup.open(item)
    if other.backend == "sqlite":
        return restore_in_place(item, other, tools=tools)
    name = str(other.url.database)
    servers.drop_tables(other.engine)
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
