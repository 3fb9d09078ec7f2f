"""The MariaDB swap of a restore: loaded tables in, views and triggers anew.

MariaDB has no RENAME DATABASE, so :func:`swap` moves tables. The dump
was loaded into a fresh database ``fresh`` beside the original ``name``:

1. From ``fresh``, the definitions of its views (``SHOW CREATE VIEW``,
   read with ``fresh`` as the default database, so the tables they name
   are unqualified) and triggers (``SHOW CREATE TRIGGER``, with each
   one's ``sql_mode``) are read; then they are dropped there, because a
   table with triggers cannot move to another database and a view cannot
   move at all. ``fresh`` is the kit's: nobody else uses it.
2. The original's triggers are read, then dropped (its tables must leave
   the schema: foreign key names are unique per schema, so the loaded
   tables cannot join while the old ones stay), and one multi-table
   ``RENAME TABLE`` -- atomic: all or nothing -- moves the original
   tables into an aside database and the loaded ones in. Writers wait on
   the tables' metadata locks, at most ``LOCK_WAIT`` seconds: if the
   rename cannot have them (a long transaction), the original's
   triggers are created again and nothing is swapped.
3. The loaded triggers and views are created in ``name`` (views by
   ``CREATE OR REPLACE``, in an order their dependencies allow); the
   original's views the dump does not have are dropped; the aside
   database (the old tables) is dropped.

The ``DEFINER`` of each view and trigger is kept as the dump had it: the
loaded copy was made by this account from that very text, so the account
may create it again; no other account's privileges are assumed. For the
milliseconds between dropping the old triggers and the rename, and
between the rename and step 3, a write does not fire a trigger (before
the rename the write is discarded by the restore anyway). Stored
routines and events belong to the database, not to its tables: the
original's stay as they are.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import URL

from dblab import servers
from dblab.safety.databases import BackupError

RAW = {"no_parameters": True}  # a trigger body may hold a literal '%'


@dataclass(frozen=True)
class Definition:
    """A view or trigger as ``SHOW CREATE`` gives it."""

    kind: str  # "VIEW" or "TRIGGER"
    name: str
    sql: str
    sql_mode: str | None = None


LOCK_WAIT = 10
"""Seconds the swap waits for the tables' metadata locks (writers queue
behind a waiting RENAME, so the wait is bounded)."""


def swap(server: URL, name: str, fresh: str) -> None:
    """Replace ``name``'s tables, views and triggers with ``fresh``'s."""
    aside = f"{name[:40]}_old_{secrets.token_hex(4)}"
    admin = servers.admin_engine(server)
    quote = admin.dialect.identifier_preparer.quote
    try:
        with admin.connect() as connection:
            old = base_tables(connection, name)
            new = base_tables(connection, fresh)
            old_views = names_of(connection, "VIEW", name)
            loaded = definitions(connection, fresh)
            for item in loaded:  # step 1: fresh is the kit's own
                drop(connection, fresh, item)
            triggers = [
                d for d in definitions(connection, name) if d.kind == "TRIGGER"
            ]
            servers.create_database(server, aside)
            moves = [
                f"{quote(name)}.{quote(t)} TO {quote(aside)}.{quote(t)}"
                for t in old
            ] + [
                f"{quote(fresh)}.{quote(t)} TO {quote(name)}.{quote(t)}"
                for t in new
            ]
            connection.exec_driver_sql(
                f"SET SESSION lock_wait_timeout = {int(LOCK_WAIT)}"
            )
            dropped: list[Definition] = []
            try:  # step 2: the one atomic statement
                for trigger in triggers:
                    drop(connection, name, trigger)
                    dropped.append(trigger)
                if moves:
                    connection.exec_driver_sql(
                        "RENAME TABLE " + ", ".join(moves)
                    )
            except sa.exc.DBAPIError as error:
                create(connection, name, dropped)
                raise BackupError(
                    f"{name} の表を入れ替えられません。元のデータベースは"
                    "そのままです (nothing swapped: "
                    f"{first_line(error)})"
                ) from None
            try:  # step 3
                create(connection, name, loaded)
                kept = {d.name for d in loaded if d.kind == "VIEW"}
                for view in sorted(set(old_views) - kept):
                    drop(connection, name, Definition("VIEW", view, ""))
            except sa.exc.DBAPIError as error:
                kept_aside, aside = aside, ""  # for whoever repairs it
                raise BackupError(
                    f"{name} の表は入れ替えましたが、ビューかトリガーを作れ"
                    f"ません。元の表は {kept_aside} に残しました (tables "
                    f"swapped; views/triggers failed: {first_line(error)})"
                ) from None
    finally:
        admin.dispose()
        if aside:
            servers.drop_database(server, aside)


def first_line(error: sa.exc.DBAPIError) -> str:
    return str(error.orig or error).strip().splitlines()[0]


def drop(connection: Connection, schema: str, item: Definition) -> None:
    quote = connection.dialect.identifier_preparer.quote
    connection.exec_driver_sql(
        f"DROP {item.kind} {quote(schema)}.{quote(item.name)}"
    )


def base_tables(connection: Connection, schema: str) -> list[str]:
    return list(
        connection.execute(
            sa.text(
                "SELECT table_name FROM information_schema.tables WHERE "
                "table_schema = :schema AND table_type = 'BASE TABLE' "
                "ORDER BY table_name"
            ),
            {"schema": schema},
        ).scalars()
    )


def names_of(connection: Connection, kind: str, schema: str) -> list[str]:
    """The views or triggers of ``schema``, by name."""
    query = {
        "VIEW": "SELECT table_name FROM information_schema.views "
        "WHERE table_schema = :schema ORDER BY table_name",
        "TRIGGER": "SELECT trigger_name FROM information_schema.triggers "
        "WHERE trigger_schema = :schema "
        "ORDER BY event_object_table, action_order",
    }[kind]
    return list(
        connection.execute(sa.text(query), {"schema": schema}).scalars()
    )


def definitions(connection: Connection, schema: str) -> list[Definition]:
    """``schema``'s views and triggers as ``SHOW CREATE`` gives them,
    read with ``schema`` as the default database (names unqualified)."""
    quote = connection.dialect.identifier_preparer.quote
    connection.exec_driver_sql(f"USE {quote(schema)}")
    found = []
    for view in names_of(connection, "VIEW", schema):
        row = connection.exec_driver_sql(
            f"SHOW CREATE VIEW {quote(view)}"
        ).one()
        found.append(Definition("VIEW", view, row[1]))
    for trigger in names_of(connection, "TRIGGER", schema):
        row = connection.exec_driver_sql(
            f"SHOW CREATE TRIGGER {quote(trigger)}"
        ).one()
        found.append(Definition("TRIGGER", trigger, row[2], row[1]))
    return found


def create(
    connection: Connection, schema: str, items: list[Definition]
) -> None:
    """Create ``items`` in ``schema``: triggers with their ``sql_mode``,
    views replacing the old ones, retried while a view waits for another
    it selects from."""
    quote = connection.dialect.identifier_preparer.quote
    connection.exec_driver_sql(f"USE {quote(schema)}")
    mode = connection.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar()
    try:
        for item in items:
            if item.kind == "TRIGGER":
                connection.execute(
                    sa.text("SET SESSION sql_mode = :mode"),
                    {"mode": item.sql_mode or ""},
                )
                connection.exec_driver_sql(item.sql, execution_options=RAW)
    finally:
        connection.execute(
            sa.text("SET SESSION sql_mode = :mode"), {"mode": mode}
        )
    waiting = [item for item in items if item.kind == "VIEW"]
    while waiting:
        failed = []
        for item in waiting:
            replace = "CREATE OR REPLACE" + item.sql[len("CREATE") :]
            try:
                connection.exec_driver_sql(replace, execution_options=RAW)
            except sa.exc.DBAPIError as error:
                failed.append((item, error))
        if len(failed) == len(waiting):
            raise failed[0][1]  # no progress: a real error
        waiting = [item for item, _ in failed]
