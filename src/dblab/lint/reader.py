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
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from dblab.lint import sqltext
from dblab.lint.ops import Op
from dblab.lint.rules import DIALECT_NAMES, SUPPORTED
from dblab.lint.values import (
    Scope,
    arguments,
    attr,
    boolean,
    column_type,
    given,
    text,
)

EXECUTE = {"execute", "exec_driver_sql"}
SESSION_WRITES = {
    "add": "insert", "add_all": "insert", "merge": "insert",
    "bulk_save_objects": "insert", "bulk_insert_mappings": "insert",
    "bulk_update_mappings": "update",
}  # fmt: skip
ORM_FILTERS = {"filter", "filter_by", "where"}
DIALECT_CLASSES = {
    "PGDialect": "postgresql",
    "MySQLDialect": "mysql",
    "SQLiteDialect": "sqlite",
}
EVERYWHERE = frozenset(SUPPORTED) | {"other"}


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
        self.tables = _model_tables(module, scope)
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
        query = _query_chain(node.iter)
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
                        context.dialects,
                        statement="update",
                        bounded=bool(ORM_FILTERS & _methods(node.iter)),
                        filled=frozenset(assigned),
                    )
                )
        self.block(node.body, context)
        self.block(node.orelse, context)

    def expression(self, node: ast.AST, context: Context) -> None:
        calls = [n for n in _calls(node)]
        for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
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
        elif name in {"update", "delete"} and _query_chain(call) is not None:
            self.ops.append(
                Op(
                    "write",
                    call.lineno,
                    self._model(_query_chain(call)),
                    context.dialects,
                    statement=name,
                    bounded=bool(ORM_FILTERS & _methods(call)),
                    filled=_dict_keys(call.args[0])
                    if name == "update" and call.args
                    else None,
                )
            )
        elif name in SESSION_WRITES and _looks_like_session(owner):
            self.ops.append(
                Op(
                    "write",
                    call.lineno,
                    None,
                    context.dialects,
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
                    context.dialects,
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
        sql = text(node, context.scope)
        if (
            sql is None
            and isinstance(node, ast.Call)
            and _root_call(node, "text")
        ):
            sql = text(_root_call(node, "text"), context.scope)
        if sql is not None:
            ops = sqltext.read(sql, line)
            for op in ops:
                op.dialects = _meet(op.dialects, context.dialects)
            return ops
        return self._core(node, line, context)

    def _core(self, node: ast.AST, line: int, context: Context) -> list[Op]:
        methods = _methods(node)
        kind = next(
            (k for k in ("update", "delete", "insert") if k in methods), None
        )
        if kind is None:
            return []
        root = _chain_root(node)
        target = root
        if isinstance(root, ast.Call) and attr(root) in {
            "update",
            "delete",
            "insert",
        }:
            target = root.args[0] if root.args else None
        filled = None
        if kind == "update":
            filled = _values_columns(node)
        bounded = "where" in methods or kind == "insert"
        return [
            Op(
                "write",
                line,
                self._table_name(target, context),
                context.dialects,
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
            if isinstance(value, ast.Call) and attr(value) in {
                "table",
                "Table",
            }:
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


def dialect_test(test: ast.AST) -> frozenset[str] | None:
    """Where ``if <test>:`` is true, when it tests the dialect."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = dialect_test(test.operand)
        return None if inner is None else EVERYWHERE - inner
    if isinstance(test, ast.BoolOp):
        parts = [dialect_test(v) for v in test.values]
        known = [p for p in parts if p is not None]
        if not known:
            return None
        if isinstance(test.op, ast.Or) and len(known) == len(parts):
            return frozenset().union(*known)
        return (
            frozenset.intersection(*known)
            if isinstance(test.op, ast.And)
            else None
        )
    if (
        isinstance(test, ast.Call)
        and attr(test) == "isinstance"
        and len(test.args) == 2
    ):
        names = [
            attr(n) or getattr(n, "id", "") for n in _elements(test.args[1])
        ]
        found = {DIALECT_CLASSES[n] for n in names if n in DIALECT_CLASSES}
        return frozenset(found) if found else None
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left, right = test.left, test.comparators[0]
    if not _is_dialect_name(left):
        left, right = right, left
        if not _is_dialect_name(left):
            return None
    names = {
        e.value for e in _elements(right)
        if isinstance(e, ast.Constant) and isinstance(e.value, str)
    }  # fmt: skip
    found = frozenset(DIALECT_NAMES.get(n, "other") for n in names)
    if isinstance(test.ops[0], ast.Eq | ast.In):
        return found
    if isinstance(test.ops[0], ast.NotEq | ast.NotIn):
        return EVERYWHERE - found
    return None


def _is_dialect_name(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and (
            node.attr == "name"
            and (
                getattr(node.value, "attr", "") == "dialect"
                or getattr(node.value, "id", "") in {"dialect", "dialect_name"}
            )
        )
        or (
            isinstance(node, ast.Name)
            and node.id in {"dialect", "dialect_name", "db_dialect"}
        )
    )


def _elements(node: ast.AST) -> list[ast.AST]:
    return (
        list(node.elts)
        if isinstance(node, ast.Tuple | ast.List | ast.Set)
        else [node]
    )


def _meet(
    a: frozenset[str] | None, b: frozenset[str] | None
) -> frozenset[str] | None:
    if a is None or b is None:
        return a if b is None else b
    return a & b


def _calls(node: ast.AST) -> Iterator[ast.Call]:
    """Calls inside ``node``, not inside nested functions or lambdas."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, ast.Lambda | ast.FunctionDef):
                stack.append(child)


def _methods(node: ast.AST) -> set[str]:
    """Method names along a call chain: ``t.update().where(...)``."""
    found = set()
    while isinstance(node, ast.Call | ast.Attribute):
        if isinstance(node, ast.Call):
            name = attr(node)
            if name:
                found.add(name)
            node = (
                node.func.value
                if isinstance(node.func, ast.Attribute)
                else None
            )
        else:
            node = node.value
    return found


def _chain_root(node: ast.AST) -> ast.AST:
    """``users`` of ``users.update().where(...)``; ``update(t)`` itself."""
    while True:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            return node


def _root_call(node: ast.AST, name: str) -> ast.Call | None:
    while isinstance(node, ast.Call):
        if attr(node) == name:
            return node
        func = node.func
        node = func.value if isinstance(func, ast.Attribute) else None
    return None


def _query_chain(node: ast.AST) -> ast.Call | None:
    """The ``session.query(...)`` call at the start of a chain, if any."""
    return _root_call(node, "query")


def _values_columns(node: ast.AST) -> frozenset[str] | None:
    values = _root_call(node, "values")
    if values is None:
        return None
    if values.args:
        return _dict_keys(values.args[0])
    return frozenset(k.arg.lower() for k in values.keywords if k.arg)


def _dict_keys(node: ast.AST) -> frozenset[str] | None:
    if not isinstance(node, ast.Dict):
        return None
    keys = set()
    for key in node.keys:
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            keys.add(key.value.lower())
        elif isinstance(key, ast.Attribute):
            keys.add(key.attr.lower())  # Model.column or table.c.column
        else:
            return None
    return frozenset(keys)


def _looks_like_session(node: ast.AST) -> bool:
    name = getattr(node, "id", None) or getattr(node, "attr", "")
    return "session" in name.lower()


def _model_tables(module: ast.Module, scope: Scope) -> dict[str, str]:
    """Module names bound to tables: ``sa.table("users")``, ORM models."""
    found: dict[str, str] = {}
    for node in module.body:
        if (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and node.value is not None
        ):
            target = (
                node.targets[0]
                if isinstance(node, ast.Assign)
                else node.target
            )
            value = node.value
            if isinstance(target, ast.Name) and isinstance(value, ast.Call):
                if attr(value) in {"table", "Table"} and value.args:
                    name = text(value.args[0], scope)
                    if name:
                        found[target.id] = name
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.Assign) and any(
                    getattr(t, "id", "") == "__tablename__"
                    for t in item.targets
                ):
                    name = text(item.value, scope)
                    if name:
                        found[node.name] = name
    return found


__all__ = ["Reader", "boolean", "column_type", "dialect_test", "given"]
