"""Which database a URL reaches, asked of the server, not read from text.

``localhost`` and ``127.0.0.1``, an explicit default port, a query string:
the same database can be spelled many ways, so staging = production is
decided by what the server says about itself:

- PostgreSQL: ``system_identifier`` of the cluster + the database name;
- MariaDB (no server UUID): ``@@hostname``, ``@@port``, ``@@datadir`` +
  the schema (lowercased where the server folds names);
- SQLite: the resolved file (device and inode when it exists);

and by the identity row ``dblab deploy --prepare`` wrote into each target
(:func:`dblab.targets.write_identity`): one database shows one row to
every URL that reaches it, also where the server's answer cannot tell
(a proxy that renames databases, two containers with one host name).
A target made without the row (an older kit) is told apart by the
server alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from dblab import servers, settings, targets

QUERIES = {
    "postgresql": "SELECT system_identifier::text FROM pg_control_system()",
    "mysql": "SELECT CONCAT_WS('|', @@hostname, @@port, @@datadir), "
    "@@lower_case_table_names",
}


def identity(url: URL) -> tuple[str, ...]:
    """What identifies the database ``url`` reaches (see module doc)."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = Path(url.database or "").resolve()
        if path.exists():
            found = path.stat()
            return ("sqlite", f"{found.st_dev}:{found.st_ino}")
        return ("sqlite", os.path.normcase(str(path)))
    maintenance = servers.maintenance_url(url)
    engine = sa.create_engine(
        maintenance,
        poolclass=NullPool,
        connect_args=settings.connect_args(maintenance),
    )
    try:
        with engine.connect() as connection:
            row = connection.exec_driver_sql(QUERIES[backend]).one()
    finally:
        engine.dispose()
    name = str(url.database)
    if backend == "mysql" and int(row[1] or 0):
        name = name.lower()  # the server folds schema names
    return (backend, str(row[0]), name)


@dataclass(frozen=True)
class Seen:
    """One target URL: the server's identity and the target's row."""

    name: str
    url: URL
    server: tuple[str, ...]
    row: targets.IdentityRow | None


def seen(where: targets.Targets, name: str) -> Seen:
    url = where.url(name)
    return Seen(name, url, identity(url), targets.read_identity(url))


def refusal(production: Seen, *others: Seen) -> str | None:
    """Why the runbook must not run with these targets; None when fine.

    Refused: production and staging are one database by the server's
    identity or by their rows; a target's row names another environment
    (its URL reaches someone else's database).
    """
    staging = next(s for s in others if s.name == "staging")
    same_server = production.server == staging.server
    same_row = (
        production.row is not None
        and staging.row is not None
        and production.row.id == staging.row.id
    )
    if same_server or same_row:
        how, hint = "サーバーの識別が同じ", ""
        if not same_server:
            how = f"同じ識別行 dblab_target_identity {production.row.id[:8]}…"
            hint = (
                "。別のデータベースなら staging は production の行ごと"
                "コピーされたものです: staging の dblab_target_identity を"
                "削除してから再実行してください"
            )
        return (
            "本番 (production) と staging が同じデータベースを指して"
            f"います ({how}){hint}。リハーサルが本番を上書きしてしまう"
            "ので中止します (production and staging are one database)"
        )
    for target in (production, *others):
        row = target.row
        if row is not None and row.environment != target.name:
            variable = f"DBLAB_TARGET_{target.name.upper()}_URL"
            return (
                f"{target.name} の URL が指すデータベースは、識別行 "
                f"(dblab_target_identity) によると {row.environment} "
                f"です。{variable} を確かめてください (the identity row "
                "names another environment)"
            )
    return None


def missing_rows(*found: Seen) -> list[str]:
    """The targets without an identity row (made by an older kit)."""
    return [s.name for s in found if s.row is None]
