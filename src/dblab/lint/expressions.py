"""Expressions in revision code: dialect tests, statement call chains
(``t.update().where(...)``, an ORM query's ``filter(...)``) and the
module names bound to tables."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from dblab.lint.rules import DIALECT_NAMES, SUPPORTED
from dblab.lint.values import Scope, attr, text

DIALECT_CLASSES = {
    "PGDialect": "postgresql",
    "MySQLDialect": "mysql",
    "SQLiteDialect": "sqlite",
}
STATEMENTS = {"update", "delete", "insert"}
LEAVES = (
    ast.Lambda,
    ast.FunctionDef,
    ast.Constant,
    ast.Name,
    ast.expr_context,
    ast.operator,
    ast.cmpop,
)
"""Nodes with no call below them (or whose calls run elsewhere)."""
EVERYWHERE = frozenset(SUPPORTED) | {"other"}
"""The databases the kit supports, and "other" for any it does not."""


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
            attr(n) or getattr(n, "id", "") for n in elements(test.args[1])
        ]
        found = {DIALECT_CLASSES[n] for n in names if n in DIALECT_CLASSES}
        return frozenset(found) if found else None
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left, right = test.left, test.comparators[0]
    if not is_dialect_name(left):
        left, right = right, left
        if not is_dialect_name(left):
            return None
    names = {
        e.value for e in elements(right)
        if isinstance(e, ast.Constant) and isinstance(e.value, str)
    }  # fmt: skip
    found = frozenset(DIALECT_NAMES.get(n, "other") for n in names)
    if isinstance(test.ops[0], ast.Eq | ast.In):
        return found
    if isinstance(test.ops[0], ast.NotEq | ast.NotIn):
        return EVERYWHERE - found
    return None


def is_dialect_name(node: ast.AST) -> bool:
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


def elements(node: ast.AST) -> list[ast.AST]:
    return (
        list(node.elts)
        if isinstance(node, ast.Tuple | ast.List | ast.Set)
        else [node]
    )


def meet(
    a: frozenset[str] | None, b: frozenset[str] | None
) -> frozenset[str] | None:
    if a is None or b is None:
        return a if b is None else b
    return a & b


def calls(node: ast.AST) -> Iterator[ast.Call]:
    """Calls inside ``node``, not inside nested functions or lambdas."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, LEAVES):
                stack.append(child)


def methods(node: ast.AST) -> set[str]:
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


def chain_root(node: ast.AST) -> ast.AST:
    """``users`` of ``users.update().where(...)``; ``update(t)`` itself."""
    while True:
        if (
            isinstance(node, ast.Call)
            and attr(node) in STATEMENTS
            and (node.args or isinstance(node.func, ast.Name))
        ):
            return node  # sa.update(users), update(User)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            return node


def root_call(node: ast.AST, name: str) -> ast.Call | None:
    while isinstance(node, ast.Call):
        if attr(node) == name:
            return node
        func = node.func
        node = func.value if isinstance(func, ast.Attribute) else None
    return None


def query_chain(node: ast.AST) -> ast.Call | None:
    """The ``session.query(...)`` call at the start of a chain, if any."""
    return root_call(node, "query")


def values_columns(node: ast.AST) -> frozenset[str] | None:
    values = root_call(node, "values")
    if values is None:
        return None
    if values.args:
        return dict_keys(values.args[0])
    if any(k.arg is None for k in values.keywords):
        return None  # ``.values(**columns)``: which ones cannot be told
    return frozenset(k.arg.lower() for k in values.keywords)


def dict_keys(node: ast.AST) -> frozenset[str] | None:
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


def looks_like_session(node: ast.AST) -> bool:
    name = getattr(node, "id", None) or getattr(node, "attr", "")
    return "session" in name.lower()


def model_tables(module: ast.Module, scope: Scope) -> dict[str, str]:
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
