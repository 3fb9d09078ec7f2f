"""What :mod:`dblab.safety` accepts as a database, and its error type."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from dblab.errors import DblabError
from dblab.servers import KitDatabase

Database = KitDatabase | Engine


class BackupError(DblabError):
    """A backup cannot be made, trusted or restored."""


def engine_of(db: Database) -> Engine:
    """The engine of a sandbox, or the engine itself."""
    if isinstance(db, KitDatabase):
        return db.engine
    if isinstance(db, Engine):
        return db
    raise TypeError(
        f"expected a Sandbox or an Engine, got {type(db).__name__}"
    )


def database_name(db: Database) -> str:
    """The database's name; for SQLite the sandbox's, else the file's."""
    url = engine_of(db).url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise BackupError(
                "メモリ上の SQLite はバックアップできません "
                "(in-memory SQLite cannot be backed up)"
            )
        return (
            db.name if isinstance(db, KitDatabase) else Path(url.database).stem
        )
    return str(url.database)
