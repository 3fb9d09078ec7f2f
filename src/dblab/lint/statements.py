"""What executing a statement does: SQL text, a Core statement (also one
held in a variable or returned by a helper function), read into ops."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace

from dblab.lint import sqltext
from dblab.lint.expressions import (
    EVERYWHERE,
    chain_root,
    meet,
    methods,
    root_call,
    values_columns,
)
from dblab.lint.ops import Op
from dblab.lint.values import Scope, attr, text

TABLE_CALLS = {"table", "Table", "create_table"}


@dataclass
class Context:
    """Where a statement sits: its batch tables, dialect guard, scope."""

    scope: Scope
    batches: dict[str, str | None] = field(default_factory=dict)
    dialects: frozenset[str] | None = None
    autocommit: bool = False  # inside op.get_context().autocommit_block()

    def narrowed(self, dialects: frozenset[str]) -> Context:
        current = self.dialects if self.dialects is not None else EVERYWHERE
        return replace(self, dialects=current & dialects)


class Statements:
    """Reads executed statements for one revision module."""

    def __init__(
        self,
        functions: dict[str, ast.FunctionDef],
        tables: dict[str, str],
        scope: Scope,
    ) -> None:
        self.functions = functions
        self.tables = tables
        self.scope = scope

    def ops(
        self, node: ast.AST | None, line: int, context: Context, depth: int = 0
    ) -> list[Op]:
        """What executing ``node`` (SQL text or a Core statement) does."""
        if node is None or depth > 8:
            return []
        if isinstance(node, ast.Name):
            value = context.scope.lookup(node.id)
            return self.ops(value, line, context, depth + 1)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in self.functions
        ):
            return self._returned(
                self.functions[node.func.id], line, depth, context.dialects
            )
        sql = text(node, context.scope)
        if (
            sql is None
            and isinstance(node, ast.Call)
            and root_call(node, "text")
        ):
            sql = text(root_call(node, "text"), context.scope)
        if sql is not None:
            ops = sqltext.read(sql, line)
            for op in ops:
                op.dialects = meet(op.dialects, context.dialects)
                op.autocommit = context.autocommit
            return ops
        return self._core(node, line, context)

    def _returned(
        self,
        helper: ast.FunctionDef,
        line: int,
        depth: int,
        dialects: frozenset[str] | None,
    ) -> list[Op]:
        """The statements a helper function builds and returns."""
        scope = self.scope.child()
        for node in ast.walk(helper):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    scope.assign(target, node.value)
        inner = Context(scope, dialects=dialects)
        return [
            op
            for node in ast.walk(helper)
            if isinstance(node, ast.Return) and node.value is not None
            for op in self.ops(node.value, line, inner, depth + 1)
        ]

    def _core(self, node: ast.AST, line: int, context: Context) -> list[Op]:
        chain = methods(node)
        kind = next(
            (k for k in ("update", "delete", "insert") if k in chain), None
        )
        if kind is None:
            return []
        root = chain_root(node)
        target = root
        if isinstance(root, ast.Call) and attr(root) in {
            "update",
            "delete",
            "insert",
        }:
            target = root.args[0] if root.args else None
        filled = None
        if kind == "update":
            filled = values_columns(node)
        bounded = "where" in chain or kind == "insert"
        return [
            Op(
                "write",
                line,
                self.table_name(target, context),
                dialects=context.dialects,
                statement=kind,
                bounded=bounded,
                filled=filled,
            )
        ]

    def table_name(self, node: ast.AST | None, context: Context) -> str | None:
        if isinstance(node, ast.Name):
            if node.id in self.tables:
                return self.tables[node.id]
            value = context.scope.lookup(node.id)
            if isinstance(value, ast.Call) and attr(value) in TABLE_CALLS:
                return (
                    text(value.args[0], context.scope) if value.args else None
                )
        if isinstance(node, ast.Attribute) and node.attr == "__table__":
            return self.table_name(node.value, context)
        return text(node, context.scope) if node is not None else None

    def model(self, query: ast.Call) -> str | None:
        first = query.args[0] if query.args else None
        while isinstance(first, ast.Attribute):
            first = first.value  # Model.column → Model
        if isinstance(first, ast.Name):
            return self.tables.get(first.id)
        return None
