"""One ``op.<name>(...)`` / ``batch_op.<name>(...)`` call read into an Op."""

from __future__ import annotations

import ast
import re

from dblab.lint.ops import SCHEMA, Op
from dblab.lint.values import (
    Scope,
    arguments,
    attr,
    boolean,
    column_type,
    given,
    text,
)

NOT_NULL_CHECK = re.compile(
    r"^\s*\(?\s*[\"`]?(\w+)[\"`]?\s+IS\s+NOT\s+NULL", re.I
)


def alembic_op(
    call: ast.Call,
    name: str,
    table: str | None,
    batch: bool,
    scope: Scope,
) -> Op | None:
    """The Op of an Alembic call; None for calls that change nothing."""
    if name not in SCHEMA:
        return None
    args = arguments(call, name, batch)
    if not batch:
        table = text(
            args.get("table_name")
            or args.get("source_table")
            or args.get("old_table_name"),
            scope,
        )
    op = Op(name, call.lineno, table)
    reader = READERS.get(name)
    if reader is not None:
        reader(op, args, scope, call)
    return op


def _add_column(
    op: Op, args: dict[str, ast.AST], scope: Scope, call: ast.Call
) -> None:
    column = args.get("column")
    if isinstance(column, ast.Call) and attr(column) == "Column":
        _read_column(op, column, scope)


def _read_column(op: Op, column: ast.Call, scope: Scope) -> None:
    """Name, type, nullability and defaults of ``sa.Column(...)``."""
    keywords = {k.arg: k.value for k in column.keywords if k.arg}
    positional = list(column.args)
    if positional and text(positional[0], scope) is not None:
        op.column = text(positional.pop(0), scope)
    elif "name" in keywords:
        op.column = text(keywords["name"], scope)
    for node in positional:
        found = column_type(node, scope)
        if found is not None and op.new_type is None:
            op.new_type = found
        if isinstance(node, ast.Call) and attr(node) == "Identity":
            op.identity = True
    if op.new_type is None and "type_" in keywords:
        op.new_type = column_type(keywords["type_"], scope)
    primary = boolean(keywords.get("primary_key"), scope)
    op.nullable = boolean(keywords.get("nullable"), scope)
    if op.nullable is None:
        op.nullable = not primary
    op.server_default = given(keywords.get("server_default"))
    op.identity = op.identity or bool(primary)


def _alter_column(
    op: Op, args: dict[str, ast.AST], scope: Scope, call: ast.Call
) -> None:
    op.column = text(args.get("column_name"), scope)
    op.nullable = boolean(args.get("nullable"), scope)
    op.existing_nullable = boolean(args.get("existing_nullable"), scope)
    op.server_default = given(args.get("server_default"))
    op.new_name = text(args.get("new_column_name"), scope)
    if given(args.get("type_")):
        op.new_type = column_type(args["type_"], scope)
        if op.new_type is not None and op.new_type.dialect:
            op.dialects = frozenset({op.new_type.dialect})
    if given(args.get("existing_type")):
        op.old_type = column_type(args["existing_type"], scope)
    if given(args.get("postgresql_using")) and op.new_type is None:
        op.new_type = column_type(args.get("existing_type"), scope)


def _drop_column(
    op: Op, args: dict[str, ast.AST], scope: Scope, call: ast.Call
) -> None:
    op.column = text(args.get("column_name"), scope)


def _rename_table(
    op: Op, args: dict[str, ast.AST], scope: Scope, call: ast.Call
) -> None:
    op.new_name = text(args.get("new_table_name"), scope)


def _create_table(
    op: Op, args: dict[str, ast.AST], scope: Scope, call: ast.Call
) -> None:
    columns = []
    for node in call.args[1:]:
        if not (isinstance(node, ast.Call) and attr(node) == "Column"):
            continue
        column = Op("add_column", op.line, op.table)
        _read_column(column, node, scope)
        if column.column:
            columns.append(
                (column.column.lower(), column.new_type, bool(column.nullable))
            )
    op.columns = tuple(columns)


def _create_index(
    op: Op, args: dict[str, ast.AST], scope: Scope, call: ast.Call
) -> None:
    op.concurrently = bool(boolean(args.get("postgresql_concurrently"), scope))


def _constraint(
    op: Op, args: dict[str, ast.AST], scope: Scope, call: ast.Call
) -> None:
    op.not_valid = bool(boolean(args.get("postgresql_not_valid"), scope))
    condition = text(args.get("condition"), scope)
    match = NOT_NULL_CHECK.match(condition or "")
    if match:
        op.not_null_check = match.group(1).lower()


READERS = {
    "add_column": _add_column,
    "alter_column": _alter_column,
    "drop_column": _drop_column,
    "rename_table": _rename_table,
    "create_table": _create_table,
    "create_index": _create_index,
    "create_foreign_key": _constraint,
    "create_check_constraint": _constraint,
}
