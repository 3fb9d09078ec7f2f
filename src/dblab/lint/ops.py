"""One schema or data change, as read from Python calls or from SQL text."""

from __future__ import annotations

from dataclasses import dataclass

from dblab.lint.types import TypeInfo

SCHEMA = {
    "create_table", "drop_table", "rename_table", "add_column",
    "drop_column", "alter_column", "create_index", "drop_index",
    "create_foreign_key", "create_check_constraint",
    "create_unique_constraint", "create_primary_key", "drop_constraint",
}  # fmt: skip
"""Operations that change the schema (all but ``create_table`` lock a
table that already has rows)."""


@dataclass
class Op:
    """A change; ``dialects`` None = it runs on every database."""

    kind: str  # an Alembic op name, "write" or "timeout"
    line: int
    table: str | None = None
    column: str | None = None
    dialects: frozenset[str] | None = None
    raw: bool = False  # read from SQL text
    nullable: bool | None = None
    existing_nullable: bool | None = None
    server_default: bool = False
    identity: bool = False
    new_name: str | None = None
    new_type: TypeInfo | None = None
    old_type: TypeInfo | None = None
    concurrently: bool = False
    autocommit: bool = (
        False  # run in autocommit_block(), outside the DDL transaction
    )
    not_valid: bool = False
    not_null_check: str | None = None  # column a CHECK (c IS NOT NULL) proves
    statement: str | None = None  # update / delete / insert (writes)
    bounded: bool = True
    filled: frozenset[str] | None = None  # columns an UPDATE sets
    columns: tuple[tuple[str, TypeInfo | None, bool], ...] = ()  # create_table

    @property
    def is_schema(self) -> bool:
        return self.kind in SCHEMA
