"""Column types as the linter sees them, and which changes rewrite a table.

PostgreSQL rewrites the table for a type change unless the new type is
binary-compatible (a longer or unbounded ``VARCHAR``, ``VARCHAR`` →
``TEXT``). MariaDB copies the table unless a ``VARCHAR`` grows within the
same length-byte class (up to 255 bytes, or above; utf8mb4 counts 4 bytes
a character).
"""

from __future__ import annotations

from dataclasses import dataclass

from dblab.lint.rules import MYSQL, POSTGRESQL

STRINGS = {"VARCHAR", "TEXT", "TINYTEXT", "MEDIUMTEXT", "LONGTEXT", "CHAR"}
ALIASES = {
    "STRING": "VARCHAR",
    "UNICODE": "VARCHAR",
    "NVARCHAR": "VARCHAR",
    "UNICODETEXT": "TEXT",
    "INT": "INTEGER",
    "BIGINTEGER": "BIGINT",
    "SMALLINTEGER": "SMALLINT",
    "BOOL": "BOOLEAN",
    "NUMERIC": "DECIMAL",
}
TEXT_BYTES = {"TINYTEXT": 1, "TEXT": 2, "MEDIUMTEXT": 3, "LONGTEXT": 4}


@dataclass(frozen=True)
class TypeInfo:
    """A type's name and the arguments that change its storage."""

    name: str
    length: int | None = None
    precision: int | None = None
    timezone: bool = False
    fsp: int | None = None
    dialect: str | None = None  # set for sqlalchemy.dialects.<name> types

    @classmethod
    def named(cls, name: str, **options) -> TypeInfo:
        upper = name.upper()
        return cls(ALIASES.get(upper, upper), **options)

    def stored(self, dialect: str) -> tuple:
        """What the database stores, so equal tuples mean no change."""
        name = self.name
        if name in {"FLOAT", "REAL", "DOUBLE", "DOUBLE_PRECISION"}:
            default = 24 if dialect == MYSQL else 53  # FLOAT with no (p)
            precision = self.precision or default
            small = name == "REAL" or (name == "FLOAT" and precision <= 24)
            return ("REAL" if small else "DOUBLE",)
        if name in {"TIMESTAMP", "DATETIME"} and dialect == POSTGRESQL:
            return ("TIMESTAMP", self.timezone)
        if name in {"TIMESTAMP", "DATETIME"}:
            return (name, self.fsp)
        if name == "BOOLEAN":
            return (name,)
        return (name, self.length, self.precision)


def rewrites(
    dialect: str, old: TypeInfo | None, new: TypeInfo, utc: bool = False
) -> bool:
    """Whether changing ``old`` to ``new`` rewrites the table.

    ``utc``: the session's time zone is UTC, so PostgreSQL (12+) turns
    ``timestamp`` into ``timestamptz`` (and back) without a rewrite.
    """
    if new.dialect is not None and new.dialect != dialect:
        return False
    times = {"TIMESTAMP", "DATETIME"}
    if utc and dialect == POSTGRESQL and new.name in times:
        if old is None or old.name in times:
            return False
    if old is None:  # a VARCHAR most likely grows; MariaDB copies for TEXT
        if dialect == MYSQL:
            return new.name != "VARCHAR"
        return new.name not in STRINGS
    if old.stored(dialect) == new.stored(dialect):
        return False
    if dialect == POSTGRESQL:
        return not _grows_in_place_postgresql(old, new)
    return not _grows_in_place_mysql(old, new)


def _grows_in_place_postgresql(old: TypeInfo, new: TypeInfo) -> bool:
    if old.name in {"VARCHAR", "TEXT"} and new.name == "TEXT":
        return True
    if old.name == new.name == "VARCHAR":
        return new.length is None or (
            old.length is not None and new.length >= old.length
        )
    return False


def _grows_in_place_mysql(old: TypeInfo, new: TypeInfo) -> bool:
    if old.name == new.name == "VARCHAR" and None not in (
        old.length,
        new.length,
    ):
        same_class = (old.length * 4 <= 255) == (new.length * 4 <= 255)
        return new.length >= old.length and same_class
    return False
