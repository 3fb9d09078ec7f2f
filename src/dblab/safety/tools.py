"""The external dump tools: finding them, their options, running them.

Dump tools are found on ``PATH`` or named with ``tools={"pg_dump": path}``;
passwords reach them through ``PGPASSWORD`` / ``MYSQL_PWD``, never argv.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from dblab import settings
from dblab.safety.databases import BackupError

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
        raise BackupError(
            f"{program} が失敗しました (exit {done.returncode}): "
            f"{tool_message(done.stderr)}"
        )


def tool_message(stderr: str) -> str:
    """The line of a tool's error output that says what went wrong.

    ``mariadb`` frames the failing statement in lines of dashes before
    its ``ERROR ...`` line; the frame says nothing.
    """
    lines = [line.strip() for line in stderr.splitlines()]
    lines = [line for line in lines if any(c.isalnum() for c in line)]
    for line in lines:
        if "ERROR" in line or "error:" in line.lower():
            return line[:300]
    return lines[0][:300] if lines else "no message"


def version(program: str) -> str:
    done = subprocess.run(  # noqa: S603 (argv list, no shell)
        [program, "--version"], capture_output=True, text=True
    )
    return done.stdout.strip() or Path(program).name


def load_mysql(program: str, url: URL, name: str, path: Path) -> None:
    args, env = client_options(url)
    with path.open("rb") as dump:
        run_tool([program, *args, "--batch", name], env, stdin=dump)


def mysql_charset(engine: Engine, name: str) -> tuple[str, str]:
    query = sa.text(
        "SELECT default_character_set_name, default_collation_name "
        "FROM information_schema.schemata WHERE schema_name = :name"
    )
    with engine.connect() as connection:
        charset, collation = connection.execute(query, {"name": name}).one()
    return str(charset), str(collation)


def set_mysql_charset(
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


def sqlite_read_only(path: str | None) -> sqlite3.Connection:
    """A read-only connection: reading a backup must not change its bytes."""
    uri = Path(path or "").resolve().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True)
