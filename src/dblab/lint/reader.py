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
from dataclasses import replace

from dblab.lint.expressions import (
    EVERYWHERE,
    calls,
    dialect_test,
    dict_keys,
    looks_like_session,
    methods,
    model_tables,
    query_chain,
)
from dblab.lint.ops import Op
from dblab.lint.statements import Context, Statements
from dblab.lint.values import (
    Scope,
    arguments,
    attr,
    text,
)

EXECUTE = {"execute", "exec_driver_sql"}
SESSION_WRITES = {
    "add": "insert", "add_all": "insert", "merge": "insert",
    "bulk_save_objects": "insert", "bulk_insert_mappings": "insert",
    "bulk_update_mappings": "update",
}  # fmt: skip
ORM_FILTERS = {"filter", "filter_by", "where"}
MAX_UNROLLED = 50


class Reader:
    """Reads one revision module's ``upgrade()`` (and what it calls)."""

    def __init__(self, module: ast.Module, scope: Scope) -> None:
        self.scope = scope
        self.functions = {
            n.name: n for n in module.body if isinstance(n, ast.FunctionDef)
        }
        self.tables = model_tables(module, scope)
        self.statements = Statements(self.functions, self.tables, scope)
        self.ops: list[Op] = []
        self.entered: set[str] = set()
        self.unrolling = False

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
                if (
                    isinstance(call, ast.Call)
                    and attr(call) == "autocommit_block"
                ):
                    inner.autocommit = True
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
                        self.statements.model(query),
                        dialects=context.dialects,
                        statement="update",
                        bounded=bool(ORM_FILTERS & methods(node.iter)),
                        filled=frozenset(assigned),
                    )
                )
        values = self._literal_items(node.iter, context)
        if values and len(values) <= MAX_UNROLLED and not self.unrolling:
            self.unrolling = True  # one level only: no product of loops
            for value in values:  # a loop over names: each one read
                context.scope.assign_all(node.target, value)
                self.block(node.body, context)
            self.unrolling = False
        else:
            self.block(node.body, context)
        self.block(node.orelse, context)

    def _literal_items(
        self, node: ast.AST, context: Context
    ) -> list[ast.AST] | None:
        """The items of ``for x in ("a", "b")`` (or of a constant list)."""
        if isinstance(node, ast.Name):
            node = context.scope.lookup(node.id)
        if not isinstance(node, ast.Tuple | ast.List | ast.Set):
            return None
        items = list(node.elts)
        return items if all(_names(item) for item in items) else None

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
            self.ops += self.statements.ops(call.args[0], call.lineno, context)
        elif name in {"update", "delete"} and query_chain(call) is not None:
            self.ops.append(
                Op(
                    "write",
                    call.lineno,
                    self.statements.model(query_chain(call)),
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
                self.ops += self.statements.ops(node, call.lineno, context)
            return
        if name == "bulk_insert":
            target = arguments(call, name, batch).get("table")
            self.ops.append(
                Op(
                    "write",
                    call.lineno,
                    self.statements.table_name(target, context),
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
            op.autocommit = context.autocommit
            self.ops.append(op)


def _names(node: ast.AST) -> bool:
    """A string constant, or a tuple of them (``("dag_run", "end_date")``)."""
    if isinstance(node, ast.Tuple | ast.List):
        return all(_names(item) for item in node.elts)
    return isinstance(node, ast.Constant) and isinstance(node.value, str)
