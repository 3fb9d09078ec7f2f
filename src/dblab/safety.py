"""Backups proven by restoring them, and an upgrade that restores on failure.

- :func:`fingerprint`: per table, the row count and an order-independent
  checksum of the rows (every table, ``alembic_version`` included).
- :func:`backup`: SQLite's online backup API, ``pg_dump -Fc`` or
  ``mariadb-dump``. Beside each dump a JSON manifest (``<dump>.json``)
  records the backend, the database, the fingerprint and the dump's
  sha256, so a corrupt or truncated file is refused, never restored.
- :func:`restore` into a NEW database (a sandbox), :func:`restore_in_place`
  over the database the backup came from, :func:`verify_backup` (restore
  into a scratch database, compare fingerprints).
- :func:`guarded_upgrade`: fingerprint → backup → verify → upgrade →
  check, and restore when the upgrade or the check fails.

Dump tools are found on ``PATH`` or named with ``tools={"pg_dump": path}``;
passwords reach them through ``PGPASSWORD`` / ``MYSQL_PWD``, never argv.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from dblab import migrate, settings
from dblab import sandbox as sandboxes
from dblab.errors import DblabError
from dblab.servers import KitDatabase as Sandbox  # sandboxes and targets
from dblab.steps import Step, StepLog, one_line

FORMAT = "dblab-backup/1"
SUFFIX = {"sqlite": "sqlite", "postgresql": "dump", "mysql": "sql"}
TOOLS = {
    "postgresql": ("pg_dump", "pg_restore"),
    "mysql": ("mariadb-dump", "mariadb"),
}
ALIASES = {
    "mariadb-dump": ("mariadb-dump", "mysqldump"),
    "mariadb": ("mariadb", "mysql"),
}
PACKAGES = {
    "pg_dump": "postgresql-client",
    "pg_restore": "postgresql-client",
    "mariadb-dump": "mariadb-client",
    "mariadb": "mariadb-client",
}
Tools = Mapping[str, "str | Path"] | None
Database = Sandbox | Engine


class BackupError(DblabError):
    """A backup cannot be made, trusted or restored."""


class GuardError(DblabError):
    """The guarded upgrade stopped; ``report`` shows after which step."""

    def __init__(self, message: str, report: GuardReport | None = None):
        super().__init__(message)
        self.report = report


# -- fingerprints ----------------------------------------------------------


class TableFingerprint(NamedTuple):
    """Row count and order-independent checksum of one table."""

    rows: int
    checksum: str


class Fingerprint(dict[str, TableFingerprint]):
    """``{table: TableFingerprint}``; equal data gives equal fingerprints."""

    def differences(self, other: Mapping[str, TableFingerprint]) -> list[str]:
        """What differs from ``other``, one short line per table."""
        lines = []
        for name in sorted(set(self) | set(other)):
            mine, theirs = self.get(name), other.get(name)
            if mine is None:
                lines.append(f"{name}: 表が増えた (table added)")
            elif theirs is None:
                lines.append(f"{name}: 表がない (table missing)")
            elif mine.rows != theirs.rows:
                lines.append(f"{name}: 行数 {mine.rows} → {theirs.rows}")
            elif mine.checksum != theirs.checksum:
                lines.append(f"{name}: 内容が違う (checksum differs)")
        return lines

    def frame(self):
        """The fingerprint as a pandas DataFrame (one row per table)."""
        import pandas as pd

        frame = pd.DataFrame(
            [(name, *value) for name, value in sorted(self.items())],
            columns=["table", "rows", "checksum"],
        )
        return frame.set_index("table")

    def to_json(self) -> dict[str, list]:
        return {name: list(value) for name, value in sorted(self.items())}

    @classmethod
    def from_json(cls, data: Mapping[str, list]) -> Fingerprint:
        return cls(
            {k: TableFingerprint(int(v[0]), v[1]) for k, v in data.items()}
        )


def fingerprint(db: Database) -> Fingerprint:
    """Row count and checksum of every table, in one consistent read.

    Each row's values are normalized (numbers by value, times in UTC,
    bytes as hex) and hashed in Python with the column names sorted; the
    row hashes are summed, so row order does not matter and a duplicated
    row does. Views are not tables and are not included.
    """
    engine = _engine(db)
    options = {}
    if engine.dialect.name != "sqlite":
        options["isolation_level"] = "REPEATABLE READ"
    result = Fingerprint()
    with engine.connect().execution_options(**options) as connection:
        names = sorted(sa.inspect(connection).get_table_names())
        for name in names:
            result[name] = _table_fingerprint(connection, name)
        connection.rollback()
    return result


def _table_fingerprint(
    connection: sa.Connection, name: str
) -> TableFingerprint:
    columns = sorted(
        sa.inspect(connection).get_columns(name), key=lambda c: c["name"]
    )
    raw = (sa.Numeric, sa.Float)  # the driver's own numbers, no warnings
    select = sa.select(
        *(
            sa.column(
                c["name"],
                sa.NullType() if isinstance(c["type"], raw) else c["type"],
            )
            for c in columns
        )
    ).select_from(sa.table(name))
    total = rows = 0
    stream = connection.execute(select, execution_options={"yield_per": 5000})
    for partition in stream.partitions():
        for row in partition:
            parts = [_canonical(value) for value in row]
            encoded = "".join(f"{len(p)}:{p}" for p in parts).encode()
            digest = hashlib.blake2b(encoded, digest_size=16).digest()
            total += int.from_bytes(digest, "big")
            rows += 1
    header = ",".join(c["name"] for c in columns)
    summary = f"{header}|{total % 2**128:032x}".encode()
    return TableFingerprint(
        rows, hashlib.blake2b(summary, digest_size=16).hexdigest()
    )


def _canonical(value: object) -> str:
    """One value as text that does not depend on the backend or driver."""
    if value is None:
        return "n"
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return f"#{value}"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return f"#{value!r}"
        value = decimal.Decimal(repr(value))
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return f"#{value}"
        if value == value.to_integral_value():
            return f"#{int(value)}"
        return f"#{value.normalize():f}"
    if isinstance(value, str):
        return "s" + value
    if isinstance(value, bytes | bytearray | memoryview):
        return "b" + bytes(value).hex()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return "t" + value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return "t" + value.isoformat()
    if isinstance(value, dt.timedelta):
        return f"i{value.total_seconds()!r}"
    if isinstance(value, dict | list):
        return "j" + json.dumps(
            value, sort_keys=True, default=str, ensure_ascii=False
        )
    return "s" + str(value)


# -- backups -----------------------------------------------------------------


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
        size, digest = _digest(path)
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

    The manifest is written last: a dump without one was interrupted and
    is refused by :meth:`Backup.open`.
    """
    engine = _engine(db)
    url = engine.url
    backend = url.get_backend_name()
    name = _database_name(db)
    folder = writable_folder(directory)
    programs = {n: find_tool(n, tools) for n in TOOLS.get(backend, ())}
    before = fingerprint(engine)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    path = folder / f"{name}-{stamp}.{SUFFIX[backend]}"
    partial = path.with_name(path.name + ".partial")
    charset = None
    try:
        if backend == "sqlite":
            with (
                closing(_sqlite_connect(url.database)) as source,
                closing(sqlite3.connect(partial)) as target,
            ):
                source.backup(target)
            tool = f"sqlite3 backup API {sqlite3.sqlite_version}"
        elif backend == "postgresql":
            program = programs["pg_dump"]
            args, env = client_options(url)
            run_tool(
                [program, *args, "-Fc", "-f", str(partial), "-d", name], env
            )
            tool = _version(program)
        else:
            program = programs["mariadb-dump"]
            args, env = client_options(url)
            options = ["--single-transaction", "--routines", "--triggers"]
            options += ["--hex-blob", "--no-tablespaces"]
            run_tool([program, *args, *options, "-r", str(partial), name], env)
            tool = _version(program)
            charset = _mysql_charset(engine, name)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    size, digest = _digest(path)
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


def restore(
    item: str | Path | Backup,
    server: URL | Database | None = None,
    *,
    tools: Tools = None,
) -> Sandbox:
    """Restore into a NEW database beside ``server``; ``close()`` drops it."""
    item = Backup.open(item)
    server_url = _server(item, server)
    programs = {n: find_tool(n, tools) for n in TOOLS.get(item.backend, ())}
    box = sandboxes.create(f"restore_{item.database}", server=server_url)
    try:
        if item.backend == "sqlite":
            with (
                closing(_sqlite_connect(str(item.path))) as source,
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
            _set_mysql_charset(box.engine, box.name, item.charset)
            _load_mysql(programs["mariadb"], box.url, box.name, item.path)
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
    engine = _engine(db)
    url = engine.url
    backend = url.get_backend_name()
    if backend != item.backend:
        raise BackupError(
            f"{item.path.name} は {settings.BACKENDS[item.backend]} の"
            f"バックアップです (backup is for {item.backend}, not {backend})"
        )
    name = _database_name(db)
    if backend != "sqlite" and name != item.database:
        raise BackupError(
            f"{item.path.name} はデータベース {item.database} のバックアップ"
            f"です (backup of {item.database}, not {name})"
        )
    programs = {n: find_tool(n, tools) for n in TOOLS.get(backend, ())}
    if server is None and isinstance(db, Sandbox):
        server = db.server
    if server is None or server.database in (None, name):
        server = url.set(
            database="postgres" if backend == "postgresql" else None
        )
    engine.dispose()
    if backend == "sqlite":
        with (
            closing(_sqlite_connect(str(item.path))) as source,
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
                _set_mysql_charset(admin, name, item.charset)
            finally:
                admin.dispose()
            _load_mysql(programs["mariadb"], url, name, item.path)
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


def find_tool(name: str, tools: Tools = None) -> str:
    """The path of a dump tool: given in ``tools``, else found on PATH."""
    given = (tools or {}).get(name)
    if given is not None:
        if Path(given).is_file() and os.access(given, os.X_OK):
            return str(given)
        raise BackupError(
            f"{name} として指定された {given} は実行できません "
            "(dump tool not found or not executable)"
        )
    for candidate in ALIASES.get(name, (name,)):
        found = shutil.which(candidate)
        if found:
            return found
    raise BackupError(
        f"{name} が見つかりません (dump tool not found on PATH)。"
        f"`apt-get install {PACKAGES.get(name, name)}` で入れるか、"
        f"tools={{'{name}': '/path/to/{name}'}} で場所を指定してください。"
    )


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


def client_options(url: URL) -> tuple[list[str], dict[str, str]]:
    """Command-line options and environment for the server's client tools.

    The password goes into the environment (``PGPASSWORD`` /
    ``MYSQL_PWD``), where other users cannot read it from ``ps``.
    """
    env = dict(os.environ)
    args = []
    if url.get_backend_name() == "postgresql":
        for flag, value in (
            ("-h", url.host),
            ("-p", url.port),
            ("-U", url.username),
        ):
            if value:
                args += [flag, str(value)]
        args.append("--no-password")
        env["PGCONNECT_TIMEOUT"] = str(settings.CONNECT_TIMEOUT)
        if url.password is not None:
            env["PGPASSWORD"] = str(url.password)
    else:
        args.append("--default-character-set=utf8mb4")
        for flag, value in (
            ("--host", url.host),
            ("--port", url.port),
            ("--user", url.username),
            ("--socket", url.query.get("unix_socket")),
        ):
            if value:
                args.append(f"{flag}={value}")
        if url.password is not None:
            env["MYSQL_PWD"] = str(url.password)
    return args, env


def run_tool(argv: list[str], env: dict[str, str], stdin=None) -> None:
    """Run a dump/restore tool; a failure is one line naming the tool."""
    program = Path(argv[0]).name
    try:
        done = subprocess.run(  # noqa: S603 (argv list, no shell)
            argv, env=env, stdin=stdin, capture_output=True, text=True
        )
    except OSError as error:
        raise BackupError(
            f"{program} を実行できません (cannot run: {error.strerror})"
        ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        first = lines[0].strip() if lines else "no message"
        raise BackupError(
            f"{program} が失敗しました (exit {done.returncode}): {first}"
        )


def _version(program: str) -> str:
    done = subprocess.run(  # noqa: S603 (argv list, no shell)
        [program, "--version"], capture_output=True, text=True
    )
    return done.stdout.strip() or Path(program).name


def _load_mysql(program: str, url: URL, name: str, path: Path) -> None:
    args, env = client_options(url)
    with path.open("rb") as dump:
        run_tool([program, *args, "--batch", name], env, stdin=dump)


def _mysql_charset(engine: Engine, name: str) -> tuple[str, str]:
    query = sa.text(
        "SELECT default_character_set_name, default_collation_name "
        "FROM information_schema.schemata WHERE schema_name = :name"
    )
    with engine.connect() as connection:
        charset, collation = connection.execute(query, {"name": name}).one()
    return str(charset), str(collation)


def _set_mysql_charset(
    engine: Engine, name: str, charset: tuple[str, str] | None
) -> None:
    if not charset:
        return
    preparer = engine.dialect.identifier_preparer
    cs, collation = (preparer.quote(part) for part in charset)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                f"ALTER DATABASE {preparer.quote(name)} "
                f"CHARACTER SET {cs} COLLATE {collation}"
            )
        )


def _engine(db: Database) -> Engine:
    if isinstance(db, Sandbox):
        return db.engine
    if isinstance(db, Engine):
        return db
    raise TypeError(
        f"expected a Sandbox or an Engine, got {type(db).__name__}"
    )


def _database_name(db: Database) -> str:
    """The database's name; for SQLite the sandbox's, else the file's."""
    url = _engine(db).url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise BackupError(
                "メモリ上の SQLite はバックアップできません "
                "(in-memory SQLite cannot be backed up)"
            )
        return db.name if isinstance(db, Sandbox) else Path(url.database).stem
    return str(url.database)


def _server(item: Backup, server: URL | Database | None) -> URL:
    if item.backend == "sqlite":
        return URL.create("sqlite")
    if isinstance(server, Sandbox):
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


def _sqlite_connect(path: str | None) -> sqlite3.Connection:
    """A read-only connection: reading a backup must not change its bytes."""
    uri = Path(path or "").resolve().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True)


def _digest(path: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


# -- the guarded upgrade ------------------------------------------------------

STEPS = {
    "preflight": "事前確認 (preflight)",
    "fingerprint": "指紋 (fingerprint)",
    "backup": "バックアップ (backup)",
    "verify": "復元の確認 (verify)",
    "upgrade": "適用 (upgrade)",
    "check": "検査 (check)",
    "restore": "復元 (restore)",
}


@dataclass(repr=False)
class GuardReport(StepLog):
    """What the guarded upgrade did, step by step (print it)."""

    NAMES = STEPS

    database: str
    backend: str
    target: str
    steps: list[Step] = field(default_factory=list)
    revision_before: tuple[str, ...] = ()
    revision_after: tuple[str, ...] = ()
    backup: Backup | None = None
    before: Fingerprint | None = None
    after: Fingerprint | None = None
    error: str | None = None
    restored: bool = False

    @property
    def ok(self) -> bool:
        """True when the upgrade and the check passed."""
        return self.error is None and not self.restored

    @property
    def outcome(self) -> str:
        if self.ok:
            now = ", ".join(self.revision_after) or "base"
            return f"成功 (upgraded to {now})"
        if self.restored:
            now = ", ".join(self.revision_before) or "base"
            return f"失敗、復元済み (failed; restored to {now}): {self.error}"
        return f"中止 (stopped): {self.error}"

    def frame(self):
        """The steps as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(
            [
                (s.name, s.mark, round(s.seconds, 3), s.detail)
                for s in self.steps
            ],
            columns=["step", "status", "seconds", "detail"],
        )

    def raise_for_failure(self) -> None:
        """Raise :class:`GuardError` unless the upgrade succeeded."""
        if not self.ok:
            raise GuardError(self.outcome, self)

    def __repr__(self) -> str:
        return (
            f"GuardReport({self.database!r}, ok={self.ok}, "
            f"restored={self.restored})"
        )

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # IPython
        printer.text(repr(self) if cycle else str(self))

    def __str__(self) -> str:
        label = settings.BACKENDS.get(self.backend, self.backend)
        lines = [
            f"安全な適用 (guarded upgrade): {self.database} ({label})"
            f" → {self.target}"
        ]
        lines += self.step_lines(seconds=True)
        lines.append(f"結果: {self.outcome}")
        return "\n".join(lines)


def guarded_upgrade(
    db: Database,
    target: str = "head",
    *,
    backup_dir: str | Path | None = None,
    config: Config | None = None,
    use_backup: str | Path | Backup | None = None,
    check: Callable[[Engine], object] | None = None,
    tools: Tools = None,
    server: URL | None = None,
) -> GuardReport:
    """Upgrade ``db`` to ``target`` so that a failure changes nothing.

    Steps: preflight (backup folder writable, dump tools present, target
    known, ``use_backup`` intact) → fingerprint → backup (or
    ``use_backup``, which must match the data now) → verify (a
    trial restore into a scratch database) → upgrade (``dblab.migrate``,
    or Alembic with ``config`` when ``db`` is an Engine) → check (the
    target revision is current, SQLite's integrity check, and ``check``:
    a callable on the engine that fails by raising, returning False or a
    non-empty message) → restore, only when the upgrade or check failed.

    A problem before the upgrade raises :class:`GuardError` and nothing is
    changed. A failed upgrade that was restored returns a report with
    ``ok`` False and ``restored`` True; a restore that does not give back
    the fingerprint of before raises :class:`GuardError`.
    """
    migrator = _Migrator(db, config)
    engine = migrator.engine
    report = GuardReport(
        database=_database_name(db),
        backend=engine.url.get_backend_name(),
        target=target,
    )
    try:
        with report.step("preflight") as step:
            folder = writable_folder(backup_dir)
            found = [
                find_tool(n, tools) for n in TOOLS.get(report.backend, ())
            ]
            report.revision_before = migrator.current()
            expected = migrator.expected(target)
            given = None if use_backup is None else Backup.open(use_backup)
            now = ", ".join(report.revision_before) or "base"
            step.detail = f"revision {now} → {target}; {folder}"
            if found:
                step.detail += f"; {', '.join(Path(p).name for p in found)}"
        with report.step("fingerprint") as step:
            report.before = fingerprint(engine)
            rows = sum(t.rows for t in report.before.values())
            step.detail = f"{len(report.before)} 表, {rows} 行 (tables, rows)"
        if given is None:
            with report.step("backup") as step:
                given = backup(db, folder, tools=tools)
                step.detail = f"{given.path.name} ({given.size} bytes)"
        else:
            with report.step("backup") as step:
                stale = given.fingerprint.differences(report.before)
                if stale:
                    step.detail = "; ".join(stale)
                    raise BackupError(
                        f"バックアップ {given.path.name} は今のデータと一致"
                        f"しません (backup is stale): {'; '.join(stale)}"
                    )
                step.detail = f"{given.path.name} を使う (given backup)"
        report.backup = given
        with report.step("verify") as step:
            verified = verify_backup(
                given, server or _server_of(db), tools=tools
            )
            if not verified.ok:
                step.detail = "; ".join(verified.differences)
                raise BackupError(
                    "試しに復元した結果が元と一致しません (fingerprint "
                    f"mismatch after restore): {step.detail}"
                )
            step.detail = "指紋が一致 (fingerprints match)"
    except DblabError as error:
        report.error = str(error)
        raise GuardError(
            "安全な適用を中止しました。データベースは変更していません "
            f"(stopped before any change): {error}",
            report,
        ) from None
    failed = _Failure()
    with _failure_kept(failed), report.step("upgrade") as step:
        migrator.upgrade(target)
        report.revision_after = migrator.current()
        step.detail = f"revision {', '.join(report.revision_after) or 'base'}"
    if failed.error is None:
        with _failure_kept(failed), report.step("check") as step:
            step.detail = migrator.check(expected, check)
    else:
        report.skip("check", "適用が失敗したため (upgrade failed)")
    if failed.error is None:
        report.skip("restore", "不要 (not needed)")
        return report
    report.error = failed.error
    try:
        with report.step("restore") as step:
            report.after = restore_in_place(
                given, db, tools=tools, server=server
            )
            differences = report.before.differences(report.after)
            if differences:
                raise BackupError(
                    "復元後の指紋が適用前と一致しません (fingerprint "
                    f"mismatch after restore): {'; '.join(differences)}"
                )
            report.restored = True
            report.revision_after = migrator.current()
            step.detail = "適用前と同じ指紋 (fingerprint equals before)"
    except Exception as error:
        raise GuardError(
            f"適用に失敗し ({failed.error})、復元もできませんでした "
            f"(restore failed: {one_line(error)})。バックアップ "
            f"{given.path} から手で戻してください。",
            report,
        ) from None
    if failed.interrupt is not None:
        raise failed.interrupt
    return report


@dataclass
class _Failure:
    error: str | None = None
    interrupt: BaseException | None = None


@contextmanager
def _failure_kept(failure: _Failure) -> Iterator[None]:
    """Record an exception of the upgrade or check instead of raising it."""
    try:
        yield
    except Exception as error:
        failure.error = one_line(error)
    except KeyboardInterrupt as error:  # restore first, then stop
        failure.error = "中断されました (interrupted)"
        failure.interrupt = error


class _Migrator:
    """Alembic on a sandbox (``dblab.migrate``) or on an Engine + Config."""

    def __init__(self, db: Database, config: Config | None) -> None:
        self.engine = _engine(db)
        self.sandbox = None
        if config is None:
            if not isinstance(db, Sandbox):
                raise GuardError(
                    "Engine を渡すときは Alembic の config も渡してください "
                    "(config= is required with an Engine)"
                )
            self.sandbox = db  # dblab.migrate explains its errors
            config = migrate.config(db)
        else:
            config.attributes["connection"] = self.engine
        self.config = config

    def current(self) -> tuple[str, ...]:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_heads()

    def expected(self, target: str) -> tuple[str, ...] | None:
        """The revisions ``target`` names, None for a relative target."""
        if any(sign in target for sign in "+-"):
            return None
        try:
            scripts = ScriptDirectory.from_config(self.config)
            found = scripts.get_revisions(target)
        except Exception as error:
            raise BackupError(
                f"対象 {target!r} を解決できません (cannot resolve target): "
                f"{one_line(error)}"
            ) from None
        return tuple(sorted(s.revision for s in found if s is not None))

    def upgrade(self, target: str) -> None:
        if self.sandbox is not None:
            migrate.upgrade(self.sandbox, target)
        else:
            command.upgrade(self.config, target)

    def check(
        self,
        expected: tuple[str, ...] | None,
        check: Callable[[Engine], object] | None,
    ) -> str:
        now = tuple(sorted(self.current()))
        if expected is not None and now != expected:
            raise BackupError(
                f"revision が {now} で、期待した {expected} ではありません "
                "(not at the target revision)"
            )
        done = ["revision OK"]
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as connection:
                result = connection.exec_driver_sql("PRAGMA integrity_check")
                verdict = result.scalar()
                broken = connection.exec_driver_sql(
                    "PRAGMA foreign_key_check"
                ).all()
            if verdict != "ok" or broken:
                raise BackupError(
                    f"SQLite の検査で問題が見つかりました (integrity: "
                    f"{verdict}, foreign key violations: {len(broken)})"
                )
            done.append("integrity_check OK")
        if check is not None:
            verdict = check(self.engine)
            if verdict is False or (isinstance(verdict, str) and verdict):
                raise BackupError(
                    f"check が失敗しました (check failed): {verdict}"
                )
            done.append("check OK")
        return ", ".join(done)


def _server_of(db: Database) -> URL | Database:
    if isinstance(db, Sandbox) and db.server is not None:
        return db.server
    return db
