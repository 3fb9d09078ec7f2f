"""Alembic environment of the example app.

Where the database comes from, in order:

1. ``config.attributes["connection"]`` -- an Engine (pytest-alembic,
   ``dblab.migrate``), a Connection (Alembic's cookbook), or an object
   whose ``connect()`` is a context manager yielding a Connection (some
   test harnesses); anything else stops with one line naming it;
2. ``config.attributes["url"]`` (offline SQL for a given backend);
3. a named target: ``alembic -x target=production ...`` or
   ``DBLAB_TARGET=production`` (``dev`` / ``staging`` / ``production``,
   resolved by ``dblab.targets.url``: ``<work>/targets/dblab_target/
   <name>.sqlite``, or the database ``dblab_target_<name>`` beside the
   maintenance database of ``DBLAB_DATABASE_URL``). Only this branch
   imports ``dblab``, lazily: the app and a plain ``alembic upgrade`` do
   not need the kit;
4. the app's own settings: ``DATABASE_URL`` or ``DB_*`` (``app.database``).

``target_metadata`` is the app's, unless a notebook hands in its own
through ``config.attributes["target_metadata"]``. The kit's own tables
(``dblab_*``) are not compared by ``alembic check`` / autogenerate.

On SQLite every migration runs in batch mode (SQLite's ALTER TABLE can
do little) with foreign keys off, because the table rebuild's DROP would
otherwise fire ``ON DELETE CASCADE`` and empty the child tables; and the
engine uses SQLAlchemy's transactional recipe, so a revision that fails
half-way leaves none of its DDL behind.

**One runner at a time.** Alembic takes no lock, so before any revision
runs the runner takes ``app.migration_lock`` (an advisory lock, a
``GET_LOCK`` or a file lock, held for the session). A second runner
waits for it at most ``MIGRATION_LOCK_WAIT`` seconds (``-x lock_wait=S``,
``config.attributes["lock_wait"]``; default 60), then reads the revision
anew and finds nothing to do -- or says in one line that another
migration holds the lock.

**Timeouts per environment.** A DDL statement that waits for a lock
makes every query behind it wait too, so on ``staging`` and
``production`` the session gets short bounds before the first revision
(none on ``dev`` or without a target): PostgreSQL ``lock_timeout`` /
``statement_timeout``, MariaDB ``lock_wait_timeout`` /
``innodb_lock_wait_timeout`` / ``max_statement_time``. They are session
settings, so they hold through every revision's transaction and through
``autocommit_block()``, and the same ``SET`` lines open the offline SQL.
Override in seconds (0: no bound) with ``-x lock_timeout=S`` /
``-x statement_timeout=S``, ``config.attributes``, or
``MIGRATION_LOCK_TIMEOUT`` / ``MIGRATION_STATEMENT_TIMEOUT``. When one
fires the revision fails and is rolled back (PostgreSQL) and nothing is
stamped: run the upgrade again when the long transaction has ended.
"""

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

config = context.config

if config.config_file_name and config.attributes.get("configure_logger", 1):
    # Keep the loggers of the caller (pytest, a notebook) alive.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# The app reads its URL on import; logging is set up first so that a bad
# DATABASE_URL is reported like every other failure, in one line.
try:
    from app import database, models  # noqa: E402
    from app.migration_lock import (  # noqa: E402
        migration_lock,
        write_lock_at_begin,
    )
except ValueError as error:  # app.database's DatabaseUrlError
    raise CommandError(str(error)) from None

# pytest-alembic sets the attribute to None when it has no metadata to give.
target_metadata = (
    config.attributes.get("target_metadata") or models.Base.metadata
)


KIT_TABLE_PREFIX = "dblab_"
"""Tables of the teaching kit, not the app's (``dblab_target_identity``,
``dblab_batch_progress``): ``alembic check`` and autogenerate leave them
alone. The same prefix as ``dblab.servers.KIT_TABLE_PREFIX`` (the app
does not import the kit; a test compares the two)."""


def include_name(name, type_, parent_names) -> bool:  # noqa: ARG001
    """Autogenerate reflects every table but the kit's own."""
    return type_ != "table" or not (name or "").startswith(KIT_TABLE_PREFIX)


def options(dialect_name: str) -> dict[str, object]:
    """The options shared by the offline and the online path."""
    return {
        "target_metadata": target_metadata,
        "include_name": include_name,
        "render_as_batch": dialect_name == "sqlite",
        # With the driver recipe in app.database, SQLite rolls back DDL.
        "transactional_ddl": dialect_name != "mysql",
        "transaction_per_migration": True,
        "compare_type": True,
    }


def app_url() -> URL:
    """The app's own URL (``DATABASE_URL`` / ``DB_*``), or one line."""
    try:
        return database.database_url()
    except database.DatabaseUrlError as error:
        raise CommandError(str(error)) from None


def cannot_connect(url: URL | None, error: DBAPIError) -> CommandError:
    """One line for a server that is down or refuses the login.

    The password never appears: the URL is shown masked and the driver's
    own first line has it replaced.
    """
    reason = str(error.orig or error).strip().splitlines()[0]
    shown = "?"
    if url is not None:
        shown = url.render_as_string(hide_password=True)
        if url.password:
            reason = reason.replace(str(url.password), "***")
    return CommandError(
        f"データベースに接続できません (cannot connect to {shown}: "
        f"{reason})。サーバーが動いているか、URL のホスト・ポート・"
        "ユーザー・パスワードを確かめてください。"
    )


def stamping() -> bool:
    """Is this run ``stamp`` (which must be able to fix the record)?"""
    if config.attributes.get("stamping"):
        return True
    command = getattr(config.cmd_opts, "cmd", None)
    return bool(command) and getattr(command[0], "__name__", "") == "stamp"


def target_url():
    """The URL of ``-x target=NAME`` or ``DBLAB_TARGET``; None without one."""
    name = target_name()
    if not name:
        return None
    from dblab import targets  # lazily: the app never imports dblab
    from dblab.errors import DblabError

    try:
        return targets.url(name)
    except DblabError as error:
        raise CommandError(str(error)) from None


TIMEOUTS = {
    # target: (lock wait, statement), seconds; 0 = no bound
    "dev": (0.0, 0.0),
    "staging": (2.0, 60.0),  # as production: a rehearsal fails likewise
    "production": (2.0, 60.0),
}


def target_name() -> str:
    """``-x target=NAME`` or ``DBLAB_TARGET``; empty without one."""
    name = context.get_x_argument(as_dictionary=True).get("target")
    return (name or os.environ.get("DBLAB_TARGET", "")).strip()


def timeout_setting(key: str, default: float) -> float:
    """One bound in seconds: ``-x key=S``, the attribute, the variable."""
    given = (
        context.get_x_argument(as_dictionary=True).get(key)
        or config.attributes.get(key)
        or os.environ.get(f"MIGRATION_{key.upper()}", "").strip()
    )
    if given in (None, ""):
        return default
    try:
        seconds = float(given)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds >= 0 or math.isinf(seconds):
        raise CommandError(
            f"{key} は 0 以上の秒数で指定してください "
            f"(not a number of seconds: {given!r})"
        )
    return seconds


def timeouts() -> tuple[float, float]:
    """(lock wait, statement) in seconds for this run's target."""
    lock, statement = TIMEOUTS.get(target_name(), (0.0, 0.0))
    return (
        timeout_setting("lock_timeout", lock),
        timeout_setting("statement_timeout", statement),
    )


def timeout_sql(dialect_name: str, lock: float, statement: float):
    """The ``SET`` statements for the bounds, and the ones that undo them."""
    if dialect_name == "postgresql":
        names = ("lock_timeout", "statement_timeout")
        sets = [
            f"SET {name} = '{round(seconds * 1000)}ms'"
            if seconds
            else f"RESET {name}"
            for name, seconds in zip(names, (lock, statement), strict=True)
        ]
        return sets, [f"RESET {name}" for name in names]
    if dialect_name in ("mysql", "mariadb"):
        names = (
            "lock_wait_timeout",
            "innodb_lock_wait_timeout",
            "max_statement_time",
        )
        values = [
            str(max(1, math.ceil(lock))) if lock else "DEFAULT",
            str(max(1, math.ceil(lock))) if lock else "DEFAULT",
            f"{statement:g}" if statement else "DEFAULT",
        ]
        pairs = ", ".join(
            f"{n} = {v}" for n, v in zip(names, values, strict=True)
        )
        reset = ", ".join(f"{n} = DEFAULT" for n in names)
        return [f"SET SESSION {pairs}"], [f"SET SESSION {reset}"]
    return [], []  # SQLite: one writer at a time, the driver's busy wait


@contextmanager
def ddl_timeouts(connection: Connection, owned: bool) -> Iterator[None]:
    """Set the target's bounds on the session for the run, then undo them.

    Taken after the migration lock: ``lock_timeout`` bounds the DDL's
    waits, not the wait for another runner.
    """
    lock, statement = timeouts()
    if not (lock or statement):
        yield
        return
    sets, resets = timeout_sql(connection.dialect.name, lock, statement)
    for sql in sets:
        connection.exec_driver_sql(sql)
    if owned and connection.in_transaction():
        connection.commit()  # session settings; Alembic begins anew
    try:
        yield
    finally:
        try:
            if owned and connection.in_transaction():
                connection.rollback()
            for sql in resets:
                connection.exec_driver_sql(sql)
            if owned and connection.in_transaction():
                connection.commit()
        except Exception:
            connection.invalidate()  # a new session has the defaults


def run_migrations_offline() -> None:
    """Write the SQL to stdout instead of running it (``--sql``)."""
    url = config.attributes.get("url") or target_url() or app_url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **options(url.get_backend_name()),
    )
    bounds = timeouts()
    sets, _ = timeout_sql(url.get_backend_name(), *bounds)
    for sql in sets if any(bounds) else []:
        context.execute(sql)
    with context.begin_transaction():
        context.run_migrations()


def check_known_revisions() -> None:
    """Stop with one line if a revision file cannot be read, or if the
    database is at a revision this code does not have (``stamp`` is let
    through: it is how the record is fixed)."""
    script = ScriptDirectory.from_config(config)
    try:
        known = {rev.revision for rev in script.walk_revisions()}
    except SyntaxError as error:
        where = Path(error.filename or "?").name
        raise CommandError(
            f"revision ファイルを読めません (cannot read a revision: "
            f"{where}:{error.lineno}: {error.msg})。そのファイルを直して"
            "ください。"
        ) from None
    if stamping():
        return
    for current in context.get_context().get_current_heads():
        if current not in known:
            raise CommandError(
                f"データベースは revision '{current}' を記録していますが、"
                "このコードの versions/ にその revision はありません "
                "(unknown revision in the database)。その revision を含む"
                "ブランチを取り込むか、内容を確かめたうえで "
                "`alembic stamp --purge <revision>` で記録を直してください。"
            )


def sqlite_foreign_keys(connection: Connection, on: bool | None) -> bool:
    """Read, and optionally set, SQLite's foreign key switch.

    The PRAGMA is a no-op inside a transaction, so it goes straight to the
    driver before Alembic begins one.
    """
    driver = connection.connection.driver_connection
    if on is not None:
        driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    return bool(driver.execute("PRAGMA foreign_keys").fetchone()[0])


LOCK_WAIT = 60.0
"""Seconds a runner waits for another one's migration lock by default."""


def lock_wait() -> float:
    """The bound on waiting for the migration lock, in seconds."""
    given = (
        context.get_x_argument(as_dictionary=True).get("lock_wait")
        or config.attributes.get("lock_wait")
        or os.environ.get("MIGRATION_LOCK_WAIT", "").strip()
        or LOCK_WAIT
    )
    try:
        seconds = float(given)
    except ValueError:
        raise CommandError(
            f"lock_wait は秒数で指定してください (not a number: {given!r})"
        ) from None
    return max(seconds, 0.0)


def run_on(connection: Connection) -> None:
    """Run the migrations on one connection, one transaction per revision."""
    sqlite = connection.dialect.name == "sqlite"
    owned = not connection.in_transaction()
    restore = None
    if sqlite and owned:
        restore = sqlite_foreign_keys(connection, None)
        sqlite_foreign_keys(connection, False)
    try:
        with (
            migration_lock(connection, lock_wait()),
            write_lock_at_begin(connection),
        ):
            migrate_on(connection, owned)
    finally:
        if restore is not None:
            if connection.in_transaction():
                connection.rollback()
            sqlite_foreign_keys(connection, restore)


def migrate_on(connection: Connection, owned: bool) -> None:
    """Configure Alembic on ``connection`` and run the pending revisions.

    Called with the migration lock held, so the revision Alembic reads
    here is final: a runner that waited finds nothing left to do.
    """
    context.configure(
        connection=connection, **options(connection.dialect.name)
    )
    check_known_revisions()
    if owned and connection.in_transaction():
        connection.rollback()  # end the read; each revision begins anew
    # After the migration lock: the bounds are for the DDL's waits.
    with ddl_timeouts(connection, owned), context.begin_transaction():
        context.run_migrations()
    if owned and connection.in_transaction():
        connection.commit()


@contextmanager
def connection_from(connectable: object) -> Iterator[Connection]:
    """A Connection from an Engine, a Connection, or a ``connect()`` maker."""
    if isinstance(connectable, Connection):
        yield connectable
        return
    connect = getattr(connectable, "connect", None)
    try:
        made = connect() if callable(connect) else None
    except DBAPIError as error:  # the server is down or refuses the login
        raise cannot_connect(
            getattr(connectable, "url", None), error
        ) from None
    if not (hasattr(made, "__enter__") and hasattr(made, "__exit__")):
        raise CommandError(
            'config.attributes["connection"] には Engine か Connection を'
            "渡してください (expected an Engine, a Connection or an object "
            "whose connect() is a context manager; got "
            f"{type(connectable).__name__})"
        )
    with made as connection:
        if not isinstance(connection, Connection):
            raise CommandError(
                f"{type(connectable).__name__}.connect() が Connection を"
                "返しません (connect() yielded "
                f"{type(connection).__name__}, not a Connection)"
            )
        yield connection


def run_migrations_online() -> None:
    """Run the migrations against a live database."""
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = database.make_engine(
            target_url() or app_url(), poolclass=NullPool
        )
    with connection_from(connectable) as connection:
        run_on(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
