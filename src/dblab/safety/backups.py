"""Backups: a dump file and its manifest, proven before they are used.

:func:`backup` uses SQLite's online backup API, ``pg_dump -Fc`` or
``mariadb-dump``. Beside each dump a JSON manifest (``<dump>.json``)
records the backend, the database, the fingerprint and the dump's
sha256, so a corrupt or truncated file is refused, never restored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine

from dblab import servers, settings
from dblab.safety.databases import (
    BackupError,
    Database,
    database_name,
    engine_of,
)
from dblab.safety.fingerprints import (
    Fingerprint,
    fingerprint,
    fingerprint_on,
)
from dblab.safety.tools import (
    TOOLS,
    Tools,
    client_options,
    find_tool,
    load_mysql,
    mysql_charset,
    run_tool,
    set_mysql_charset,
    sqlite_read_only,
    version,
)
from dblab.servers import KitDatabase

FORMAT = "dblab-backup/1"
SUFFIX = {"sqlite": "sqlite", "postgresql": "dump", "mysql": "sql"}


@dataclass(frozen=True)
class Backup:
    """A dump file and what its manifest says about it."""

    path: Path
    backend: str
    database: str
    created: str
    size: int
    sha256: str
    fingerprint: Fingerprint
    tool: str
    charset: tuple[str, str] | None = None  # MariaDB: charset, collation

    @property
    def manifest(self) -> Path:
        """The JSON sidecar beside the dump."""
        return manifest_path(self.path)

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "file": self.path.name,
            "backend": self.backend,
            "database": self.database,
            "created": self.created,
            "size": self.size,
            "sha256": self.sha256,
            "tool": self.tool,
            "charset": list(self.charset) if self.charset else None,
            "fingerprint": self.fingerprint.to_json(),
        }

    @classmethod
    def open(cls, path: str | Path | Backup) -> Backup:
        """Read the manifest and check the dump against it.

        Raises :class:`BackupError` for a missing, truncated or corrupt
        dump and for a missing or unreadable manifest.
        """
        if isinstance(path, Backup):
            path = path.path
        path = Path(path)
        if path.name.endswith(".json"):
            path = path.with_name(path.name[: -len(".json")])
        shown = path.name
        try:
            data = json.loads(manifest_path(path).read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError(data.get("format"))
            item = cls(
                path=path,
                backend=data["backend"],
                database=data["database"],
                created=data["created"],
                size=int(data["size"]),
                sha256=data["sha256"],
                tool=data["tool"],
                charset=tuple(data["charset"])
                if data.get("charset")
                else None,
                fingerprint=Fingerprint.from_json(data["fingerprint"]),
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            raise BackupError(
                f"バックアップ {shown} の記録 (manifest) が読めません "
                "(missing or unreadable manifest)。このファイルは使えません。"
            ) from None
        if not path.is_file():
            raise BackupError(
                f"バックアップ {shown} がありません (backup file not found)"
            )
        size, digest = file_digest(path)
        if size != item.size:
            raise BackupError(
                f"バックアップ {shown} は途中で切れています (truncated: "
                f"{size} of {item.size} bytes)。復元には使えません。"
            )
        if digest != item.sha256:
            raise BackupError(
                f"バックアップ {shown} は壊れています (corrupt: sha256 does "
                "not match its manifest)。復元には使えません。"
            )
        return item


def manifest_path(path: Path) -> Path:
    """``<dump>.json``."""
    return path.with_name(path.name + ".json")


def backup(
    db: Database, directory: str | Path | None = None, *, tools: Tools = None
) -> Backup:
    """Dump ``db`` into ``directory`` (default: ``<work>/backups``).

    The manifest's fingerprint describes the dump itself, even while
    others write: SQLite's backup API copies one consistent state and the
    copy is fingerprinted; PostgreSQL fingerprints and dumps from one
    snapshot (``pg_export_snapshot()`` + ``pg_dump --snapshot``); MariaDB
    dumps with ``--single-transaction`` and, since a snapshot cannot be
    shared across connections, fingerprints a trial load of the dump.
    The manifest is written last: a dump without one was interrupted and
    is refused by :meth:`Backup.open`.
    """
    engine = engine_of(db)
    backend = engine.url.get_backend_name()
    name = database_name(db)
    folder = writable_folder(directory)
    programs = {n: find_tool(n, tools) for n in TOOLS.get(backend, ())}
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    path = folder / f"{name}-{stamp}.{SUFFIX[backend]}"
    partial = path.with_name(path.name + ".partial")
    charset = None
    try:
        if backend == "sqlite":
            before, tool = _dump_sqlite(engine, partial)
        elif backend == "postgresql":
            before, tool = _dump_postgresql(engine, programs, partial)
        else:
            charset = mysql_charset(engine, name)
            before, tool = _dump_mysql(db, programs, partial, charset)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    size, digest = file_digest(path)
    item = Backup(
        path=path,
        backend=backend,
        database=name,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        size=size,
        sha256=digest,
        fingerprint=before,
        tool=tool,
        charset=charset,
    )
    text = json.dumps(item.to_json(), ensure_ascii=False, indent=1)
    temporary = item.manifest.with_name(item.manifest.name + ".partial")
    temporary.write_text(text + "\n", encoding="utf-8")
    temporary.replace(item.manifest)
    return item


def _dump_sqlite(engine: Engine, partial: Path) -> tuple[Fingerprint, str]:
    with (
        closing(sqlite_read_only(engine.url.database)) as source,
        closing(sqlite3.connect(partial)) as target,
    ):
        source.backup(target)
    copy = sa.create_engine(sa.URL.create("sqlite", database=str(partial)))
    try:
        before = fingerprint(copy)
    finally:
        copy.dispose()
    return before, f"sqlite3 backup API {sqlite3.sqlite_version}"


def _dump_postgresql(
    engine: Engine, programs: dict[str, str], partial: Path
) -> tuple[Fingerprint, str]:
    program = programs["pg_dump"]
    args, env = client_options(engine.url)
    name = str(engine.url.database)
    options = {"isolation_level": "REPEATABLE READ"}
    with engine.connect().execution_options(**options) as connection:
        snapshot = connection.exec_driver_sql(
            "SELECT pg_export_snapshot()"
        ).scalar()
        before = fingerprint_on(connection)
        run_tool(
            [program, *args, f"--snapshot={snapshot}", "-Fc"]
            + ["-f", str(partial), "-d", name],
            env,
        )
        connection.rollback()
    return before, version(program)


def _dump_mysql(
    db: Database,
    programs: dict[str, str],
    partial: Path,
    charset: tuple[str, str],
) -> tuple[Fingerprint, str]:
    from dblab import sandbox as sandboxes

    url = engine_of(db).url
    program = programs["mariadb-dump"]
    args, env = client_options(url)
    options = ["--single-transaction", "--routines", "--triggers"]
    options += ["--hex-blob", "--no-tablespaces"]
    run_tool(
        [program, *args, *options, "-r", str(partial), str(url.database)],
        env,
    )
    server = db.server if isinstance(db, KitDatabase) else None
    scratch = sandboxes.create(
        "backup_check", server=server or servers.maintenance_url(url)
    )
    try:
        set_mysql_charset(scratch.engine, scratch.name, charset)
        load_mysql(programs["mariadb"], scratch.url, scratch.name, partial)
        before = fingerprint(scratch.engine)
    finally:
        scratch.close()
    return before, version(program)


def writable_folder(directory: str | Path | None) -> Path:
    """The backup folder, created if needed, proven writable."""
    folder = Path(directory) if directory else settings.work_dir() / "backups"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as error:
        raise BackupError(
            f"バックアップ先 {folder} に書き込めません (backup directory not "
            f"writable: {error.strerror or error})"
        ) from None
    return folder


def file_digest(path: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()
