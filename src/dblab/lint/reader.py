"""``upgrade()`` read into ops, the way real revisions write it.

Follows ``op.<name>`` and ``batch_op.<name>`` calls with positional or
keyword arguments, SQL run through ``op.execute``, a connection's or a
session's ``execute``, Core ``update()`` / ``delete()`` / ``insert()``
statements (also held in variables), ORM query updates and loops that
assign to loaded rows, and module-level helper functions that
``upgrade()`` calls. A block under ``if bind.dialect.name == "mysql":``
(or its ``else``) runs only on those databases.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace

from dblab.lint import sqltext
from dblab.lint.expressions import (
    EVERYWHERE,
    calls,
    chain_root,
    dialect_test,
    dict_keys,
    looks_like_session,
    meet,
    methods,
    model_tables,
    query_chain,
    root_call,
    values_columns,
)
from dblab.lint.ops import Op
from dblab.lint.values import (
    Scope,
    arguments,
    attr,
    text,
)

EXECUTE = {"execute", "exec_driver_sql"}
TABLE_CALLS = {"table", "Table", "create_table"}
SESSION_WRITES = {
    "add": "insert", "add_all": "insert", "merge": "insert",
    "bulk_save_objects": "insert", "bulk_insert_mappings": "insert",
    "bulk_update_mappings": "update",
}  # fmt: skip
ORM_FILTERS = {"filter", "filter_by", "where"}
EVERYWHERE = EVERYWHERE


@dataclass
class Context:
    """Where a statement sits: its batch tables, dialect guard, scope."""

    scope: Scope
    batches: dict[str, str | None] = field(default_factory=dict)
    dialects: frozenset[str] | None = None

    def narrowed(self, dialects: frozenset[str]) -> Context:
        current = self.dialects if self.dialects is not None else EVERYWHERE
        return replace(self, dialects=current & dialects)


class Reader:
    """Reads one revision module's ``upgrade()`` (and what it calls)."""

    def __init__(self, module: ast.Module, scope: Scope) -> None:
        self.scope = scope
        self.functions = {
            n.name: n for n in module.body if isinstance(n, ast.FunctionDef)
        }
        self.tables = model_tables(module, scope)
        self.ops: list[Op] = []
        self.entered: set[str] = set()

    def read(self, name: str = "upgrade") -> list[Op]:
        function = self.functions.get(name)
        if function is not None:
            self.entered.add(name)
            self.block(function.body, Context(self.scope.child()))
        return self.ops

    def block(self, body: list[ast.stmt], context: Context) -> None:
        for statement in body:
            context = self.statement(statement, context)

    def statement(self, node: ast.stmt, context: Context) -> Context:
        """Read one statement; return the context for the ones after it."""
        if isinstance(node, ast.If):
            return self._if(node, context)
        if isinstance(node, ast.With | ast.AsyncWith):
            inner = replace(context, batches=dict(context.batches))
            for item in node.items:
                self.expression(item.context_expr, context)
                call = item.context_expr
                if (
                    isinstance(call, ast.Call)
                    and attr(call) == "batch_alter_table"
                ):
                    table = text(
                        arguments(call, "drop_table", False).get("table_name"),
                        context.scope,
                    )
                    if isinstance(item.optional_vars, ast.Name):
                        inner.batches[item.optional_vars.id] = table
            self.block(node.body, inner)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self._loop(node, context)
        elif isinstance(node, ast.While):
            self.block(node.body, context)
        elif isinstance(node, ast.Try):
            for part in (
                node.body,
                *(h.body for h in node.handlers),
                node.orelse,
                node.finalbody,
            ):
                self.block(part, context)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            value = node.value
            targets = (
                node.targets if isinstance(node, ast.Assign) else [node.target]
            )
            if value is not None:
                self.expression(value, context)
                for target in targets:
                    context.scope.assign(target, value)
        elif not isinstance(node, ast.FunctionDef | ast.ClassDef):
            self.expression(node, context)
        return context

    def _if(self, node: ast.If, context: Context) -> Context:
        dialects = dialect_test(node.test)
        if dialects is None:
            self.expression(node.test, context)
            self.block(node.body, context)
            self.block(node.orelse, context)
            return context
        then, other = (
            context.narrowed(dialects),
            context.narrowed(EVERYWHERE - dialects),
        )
        self.block(node.body, then)
        self.block(node.orelse, other)
        leaves = node.body and isinstance(
            node.body[-1], ast.Return | ast.Raise
        )
        return other if leaves and not node.orelse else context

    def _loop(self, node: ast.For | ast.AsyncFor, context: Context) -> None:
        self.expression(node.iter, context)
        query = query_chain(node.iter)
        if query is not None and isinstance(node.target, ast.Name):
            assigned = {
                t.attr.lower()
                for s in ast.walk(node)
                if isinstance(s, ast.Assign)
                for t in s.targets
                if isinstance(t, ast.Attribute)
                and isinstance(t.value, ast.Name)
                and t.value.id == node.target.id
            }
            if assigned:
                self.ops.append(
                    Op(
                        "write",
                        node.lineno,
                        self._model(query),
                        dialects=context.dialects,
                        statement="update",
                        bounded=bool(ORM_FILTERS & methods(node.iter)),
                        filled=frozenset(assigned),
                    )
                )
        self.block(node.body, context)
        self.block(node.orelse, context)

    def expression(self, node: ast.AST, context: Context) -> None:
        found = list(calls(node))
        for call in sorted(found, key=lambda c: (c.lineno, c.col_offset)):
            self.call(call, context)

    def call(self, call: ast.Call, context: Context) -> None:
        func = call.func
        if isinstance(func, ast.Name) and func.id in self.functions:
            if func.id not in self.entered:  # a helper: read it once
                self.entered.add(func.id)
                helper = self.functions[func.id]
                self.block(
                    helper.body, replace(context, scope=self.scope.child())
                )
            return
        if not isinstance(func, ast.Attribute):
            return
        owner, name = func.value, func.attr
        if isinstance(owner, ast.Name) and owner.id == "op":
            self.alembic(call, name, None, False, context)
        elif isinstance(owner, ast.Name) and owner.id in context.batches:
            self.alembic(call, name, context.batches[owner.id], True, context)
        elif name in EXECUTE and call.args:
            self.ops += self.statement_ops(call.args[0], call.lineno, context)
        elif name in {"update", "delete"} and query_chain(call) is not None:
            self.ops.append(
                Op(
                    "write",
                    call.lineno,
                    self._model(query_chain(call)),
                    dialects=context.dialects,
                    statement=name,
                    bounded=bool(ORM_FILTERS & methods(call)),
                    filled=dict_keys(call.args[0])
                    if name == "update" and call.args
                    else None,
                )
            )
        elif name in SESSION_WRITES and looks_like_session(owner):
            self.ops.append(
                Op(
                    "write",
                    call.lineno,
                    None,
                    dialects=context.dialects,
                    statement=SESSION_WRITES[name],
                )
            )

    def alembic(
        self,
        call: ast.Call,
        name: str,
        table: str | None,
        batch: bool,
        context: Context,
    ) -> None:
        if name == "execute":
            if call.args or call.keywords:
                node = arguments(call, "execute", False).get("sqltext")
                self.ops += self.statement_ops(node, call.lineno, context)
            return
        if name == "bulk_insert":
            target = arguments(call, name, batch).get("table")
            self.ops.append(
                Op(
                    "write",
                    call.lineno,
                    self._table_name(target, context),
                    dialects=context.dialects,
                    statement="insert",
                )
            )
            return
        from dblab.lint.calls import alembic_op

        op = alembic_op(call, name, table, batch, context.scope)
        if op is not None:
            if op.dialects is None:
                op.dialects = context.dialects
            elif context.dialects is not None:
                op.dialects = op.dialects & context.dialects
            self.ops.append(op)

    def statement_ops(
        self, node: ast.AST | None, line: int, context: Context, depth: int = 0
    ) -> list[Op]:
        """What executing ``node`` (SQL text or a Core statement) does."""
        if node is None or depth > 8:
            return []
        if isinstance(node, ast.Name):
            value = context.scope.lookup(node.id)
            return self.statement_ops(value, line, context, depth + 1)
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
            for op in self.statement_ops(node.value, line, inner, depth + 1)
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
                self._table_name(target, context),
                dialects=context.dialects,
                statement=kind,
                bounded=bounded,
                filled=filled,
            )
        ]

    def _table_name(
        self, node: ast.AST | None, context: Context
    ) -> str | None:
        if isinstance(node, ast.Name):
            if node.id in self.tables:
                return self.tables[node.id]
            value = context.scope.lookup(node.id)
            if isinstance(value, ast.Call) and attr(value) in TABLE_CALLS:
                return (
                    text(value.args[0], context.scope) if value.args else None
                )
        if isinstance(node, ast.Attribute) and node.attr == "__table__":
            return self._table_name(node.value, context)
        return text(node, context.scope) if node is not None else None

    def _model(self, query: ast.Call) -> str | None:
        first = query.args[0] if query.args else None
        while isinstance(first, ast.Attribute):
            first = first.value  # Model.column → Model
        if isinstance(first, ast.Name):
            return self.tables.get(first.id)
        return None
