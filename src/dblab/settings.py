"""Which databases the kit uses, read from the environment.

- ``DBLAB_DATABASE_URL``: the server on which notebooks create their
  sandboxes (default: SQLite files in the kit's work folder).
- ``DBLAB_POSTGRES_URL`` / ``DBLAB_MYSQL_URL``: extra servers for the
  sections and tests that compare databases.
- ``DBLAB_SCALE``: ``test`` shrinks demo data; anything else is full size.
- ``DBLAB_REQUIRE_SERVERS``: ``1`` turns "server not configured or not
  reachable" from a skip into a failure (CI sets it).

The database named in a server URL is a maintenance database: sandboxes
are created beside it, never inside it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.pool import NullPool, Pool

from dblab.errors import ServerUnreachable, SettingsError

ROOT = Path(__file__).resolve().parents[2]
"""The kit's folder (the package is installed in editable mode)."""

MIGRATIONS = ROOT / "migrations"
ALEMBIC_INI = ROOT / "alembic.ini"
NOTEBOOKS = ROOT / "notebooks"

EXAMPLES = {
    "DBLAB_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "DBLAB_POSTGRES_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "DBLAB_MYSQL_URL": "mysql+pymysql://root@127.0.0.1:3306/test",
}
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MariaDB"}
CONNECT_TIMEOUT = 3  # seconds; a lecture room should not wait longer
HANDSHAKE_TIMEOUT = 4.5
"""MariaDB: the longest wait for the server's greeting and login reply.

PyMySQL's ``connect_timeout`` covers only the TCP connect, so a port
that accepts but never speaks (a silent listener) would hang; the kit
connects with this ``read_timeout`` and lifts it once logged in, so a
long migration is never cut off (see :func:`_lift_handshake_timeout`).
"""
QUOTES = "\"'“”‘’"


def work_dir() -> Path:
    """The git-ignored folder for SQLite files, backups and copies."""
    path = Path(os.environ.get("DBLAB_WORK_DIR", ROOT / "work"))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SettingsError(
            f"作業フォルダ {path} を作れません (cannot create the work "
            f"folder: {error.strerror})。DBLAB_WORK_DIR を書き込めるフォルダ"
            "にしてください。"
        ) from None
    return path


def mask(value: str | URL) -> str:
    """A URL (or any text holding URLs) with every password as ``***``."""
    if isinstance(value, URL):
        return value.render_as_string(hide_password=True)
    return re.sub(r"(://[^:/@\s]*:)\S*@", r"\1***@", value)


def parse_url(value: str, variable: str) -> URL:
    """Parse ``value`` as a SQLAlchemy URL or explain, in one line, why not.

    The message never shows the password (it is masked as ``***``).
    """
    example = EXAMPLES.get(variable, EXAMPLES["DBLAB_POSTGRES_URL"])
    value = value.strip()
    if value[:1] in QUOTES or value[-1:] in QUOTES:
        raise SettingsError(
            f"{variable} が引用符で囲まれています (the URL is quoted): "
            f"{mask(value)}。値から \" や ' を外してください (cmd.exe では "
            f"set {variable}=... と引用符なしで書きます)。"
        )
    try:
        url = make_url(value)
        dialect = url.get_dialect()
    except NoSuchModuleError:
        raise SettingsError(
            f"{variable} のデータベース種別 '{url.drivername}' は使えません "
            f"(unknown dialect or driver)。例: {example}"
        ) from None
    except (ArgumentError, ValueError):
        raise SettingsError(
            f"{variable} の形式が正しくありません (malformed URL): "
            f"{mask(value)}。パスワードの @ / : は %40 %2F %3A と書きます。"
            f"例: {example}"
        ) from None
    if "@" in (url.host or ""):
        raise SettingsError(
            f"{variable} のパスワードに @ が含まれています (unescaped @ in "
            f"the password): {mask(value)}。@ は %40 と書いてください。"
        )
    if url.get_backend_name() not in BACKENDS:
        raise SettingsError(
            f"{variable} は SQLite / PostgreSQL / MySQL(MariaDB) の URL に"
            f"してください (unsupported backend '{url.get_backend_name()}')"
            f"。例: {example}"
        )
    try:
        dialect.import_dbapi()
    except ImportError as error:
        raise SettingsError(
            f"{variable} のドライバ {error.name} がインストールされていません "
            f"(driver not installed)。URL に +psycopg や +pymysql を付けて"
            f"ください。例: {example}"
        ) from None
    if url.get_backend_name() != "sqlite" and not url.database:
        raise SettingsError(
            f"{variable} に保守用データベース名がありません (no database in "
            f"URL)。例: {example}"
        )
    return url


def _from_env(variable: str) -> URL | None:
    value = os.environ.get(variable, "").strip()
    return parse_url(value, variable) if value else None


def database_url() -> URL:
    """Where notebook sandboxes live: a server, or SQLite files."""
    url = _from_env("DBLAB_DATABASE_URL")
    if url is None:
        return URL.create("sqlite", database=str(work_dir() / "course.sqlite"))
    return url


def postgres_url() -> URL | None:
    """The PostgreSQL server for comparisons and tests, if configured."""
    return _from_env("DBLAB_POSTGRES_URL")


def mysql_url() -> URL | None:
    """The MySQL / MariaDB server for comparisons and tests, if configured."""
    return _from_env("DBLAB_MYSQL_URL")


def scale() -> str:
    """``test`` (small, quiet demos) or ``full`` (a learner's real run)."""
    value = os.environ.get("DBLAB_SCALE", "full").strip().lower()
    return "test" if value == "test" else "full"


def scaled(full: int, test: int) -> int:
    """A data size: ``full`` for a learner, ``test`` under the test suite."""
    return test if scale() == "test" else full


def servers_required() -> bool:
    """True when a missing or silent server must fail instead of skip."""
    return os.environ.get("DBLAB_REQUIRE_SERVERS", "") == "1"


def connect_args(url: URL) -> dict[str, object]:
    """Driver options that make an unreachable or silent server fail fast.

    On MariaDB the login is bounded too (``read_timeout`` during the
    handshake only; lifted on connect unless the URL asks for one).
    """
    if url.get_backend_name() == "postgresql":
        return {"connect_timeout": CONNECT_TIMEOUT}
    if url.get_backend_name() == "mysql":
        found: dict[str, object] = {"connect_timeout": CONNECT_TIMEOUT}
        if url.get_driver_name() == "pymysql":
            if "read_timeout" not in url.query:
                found["read_timeout"] = HANDSHAKE_TIMEOUT
        return found
    return {}


@event.listens_for(Pool, "connect")
def _lift_handshake_timeout(dbapi_connection, connection_record) -> None:  # noqa: ARG001
    """Remove the login-only ``read_timeout`` once a PyMySQL login is done."""
    if getattr(dbapi_connection, "_read_timeout", None) != HANDSHAKE_TIMEOUT:
        return
    dbapi_connection._read_timeout = None  # noqa: SLF001 (no public API)
    sock = getattr(dbapi_connection, "_sock", None)
    if sock is not None:
        sock.settimeout(None)
        dbapi_connection._current_timeout = None  # noqa: SLF001


def describe(url: URL) -> str:
    """``host:port`` (or the file) of a URL, without the password."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    port = url.port or {"postgresql": 5432, "mysql": 3306}.get(
        url.get_backend_name()
    )
    return f"{url.host or 'localhost'}:{port}"


def check_reachable(url: URL) -> str:
    """Connect once; return the server version or raise ServerUnreachable."""
    engine = create_engine(
        url, poolclass=NullPool, connect_args=connect_args(url)
    )
    try:
        with engine.connect() as connection:
            if url.get_backend_name() == "sqlite":
                query = "select sqlite_version()"
            else:
                query = "select version()"
            return str(connection.execute(text(query)).scalar_one())
    except (OperationalError, DBAPIError) as error:
        raise ServerUnreachable(unreachable_message(url, error)) from None
    finally:
        engine.dispose()


def unreachable_message(url: URL, error: DBAPIError) -> str:
    """One line saying which server did not let us in, and why."""
    reason = str(error.orig).strip().splitlines()[0] if error.orig else ""
    reason = mask(reason)
    if url.password:
        reason = reason.replace(str(url.password), "***")
    return (
        f"{BACKENDS[url.get_backend_name()]} ({describe(url)}) に接続"
        f"できません (cannot connect: {reason})。サーバーが起動して"
        "いるか、URL のホスト・ポート・ユーザー・パスワードを確認して"
        "ください。"
    )
