"""Values in revision code: call arguments, constants, strings, types.

Real revisions pass arguments by position or by keyword, name tables in
module-level constants, wrap names in ``op.f()`` and build SQL in
f-strings or variables; every reader here accepts all of those.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from dblab.lint.rules import DIALECT_NAMES
from dblab.lint.types import TypeInfo

OP_PARAMS: dict[str, tuple[str, ...]] = {
    "add_column": ("table_name", "column"),
    "drop_column": ("table_name", "column_name"),
    "alter_column": (
        "table_name", "column_name", "nullable", "comment",
        "server_default", "new_column_name", "type_", "existing_type",
        "existing_server_default", "existing_nullable",
    ),
    "create_table": ("table_name",),
    "drop_table": ("table_name",),
    "rename_table": ("old_table_name", "new_table_name"),
    "create_index": ("index_name", "table_name", "columns"),
    "drop_index": ("index_name", "table_name"),
    "create_foreign_key": (
        "constraint_name", "source_table", "referent_table", "local_cols",
        "remote_cols",
    ),
    "create_check_constraint": ("constraint_name", "table_name", "condition"),
    "create_unique_constraint": ("constraint_name", "table_name", "columns"),
    "create_primary_key": ("constraint_name", "table_name", "columns"),
    "drop_constraint": ("constraint_name", "table_name", "type_"),
    "execute": ("sqltext",),
    "bulk_insert": ("table", "rows"),
}  # fmt: skip
"""Positional parameters of ``op.<name>``; batch ops drop the table."""
TABLE_PARAMS = {"table_name", "source_table"}
MAX_DEPTH = 8


def attr(call: ast.AST) -> str | None:
    """The called name: ``x.y(...)`` → ``y``, ``y(...)`` → ``y``."""
    func = call.func if isinstance(call, ast.Call) else call
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def arguments(call: ast.Call, name: str, batch: bool) -> dict[str, ast.AST]:
    """The arguments of an Alembic op by parameter name."""
    params = OP_PARAMS.get(name, ())
    if batch:
        params = tuple(p for p in params if p not in TABLE_PARAMS)
    found: dict[str, ast.AST] = {}
    for param, node in zip(params, call.args, strict=False):
        if not isinstance(node, ast.Starred):
            found[param] = node
    for keyword in call.keywords:
        if keyword.arg is not None:
            found[keyword.arg] = keyword.value
    return found


@dataclass
class Scope:
    """Names a revision assigns: module constants, then local variables."""

    names: dict[str, ast.AST] = field(default_factory=dict)
    imports: dict[str, str] = field(default_factory=dict)  # name → module
    parent: Scope | None = None

    def child(self) -> Scope:
        return Scope(imports=self.imports, parent=self)

    def lookup(self, name: str) -> ast.AST | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None

    def assign(self, target: ast.AST, value: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self.names[target.id] = value

    def assign_all(self, target: ast.AST, value: ast.AST) -> None:
        """``for table, column in ...``: each name to its part."""
        if isinstance(target, ast.Tuple | ast.List) and isinstance(
            value, ast.Tuple | ast.List
        ):
            for part, item in zip(target.elts, value.elts, strict=False):
                self.assign_all(part, item)
        else:
            self.assign(target, value)


def text(node: ast.AST | None, scope: Scope, depth: int = 0) -> str | None:
    """The string a node evaluates to, as far as it can be told."""
    if node is None or depth > MAX_DEPTH:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value
            if isinstance(part, ast.Constant)
            else (text(part.value, scope, depth + 1) or "?")
            for part in node.values
            if isinstance(part, ast.Constant | ast.FormattedValue)
        )
    if isinstance(node, ast.Name):
        return text(scope.lookup(node.id), scope, depth + 1)
    if isinstance(node, ast.BinOp):
        left = text(node.left, scope, depth + 1)
        if isinstance(node.op, ast.Add):
            right = text(node.right, scope, depth + 1)
            return None if left is None else left + (right or "?")
        return left if isinstance(node.op, ast.Mod) else None
    if isinstance(node, ast.Call):
        name = attr(node)
        if name in {"f", "text", "dedent", "conv", "quoted_name"}:
            return text(node.args[0], scope, depth + 1) if node.args else None
        if name in {"format", "strip", "lower", "upper"} and isinstance(
            node.func, ast.Attribute
        ):
            return text(node.func.value, scope, depth + 1)
    return None


def boolean(node: ast.AST | None, scope: Scope) -> bool | None:
    if isinstance(node, ast.Name):
        node = scope.lookup(node.id)
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


def given(node: ast.AST | None) -> bool:
    """An argument that is there and not ``None``."""
    return node is not None and not (
        isinstance(node, ast.Constant) and node.value is None
    )


def column_type(node: ast.AST | None, scope: Scope) -> TypeInfo | None:
    """``sa.String(250)``, ``mysql.TIMESTAMP(fsp=6)``, ``sa.Text``…"""
    if isinstance(node, ast.Name) and scope.lookup(node.id) is not None:
        node = scope.lookup(node.id)
    call = node if isinstance(node, ast.Call) else None
    func = call.func if call is not None else node
    if not isinstance(func, ast.Attribute | ast.Name):
        return None
    name = func.attr if isinstance(func, ast.Attribute) else func.id
    if name in {"with_variant", "Column"} or not name[:1].isupper():
        return None
    owner = func.value if isinstance(func, ast.Attribute) else None
    module = (
        owner.id
        if isinstance(owner, ast.Name)
        else getattr(owner, "attr", None)
    )
    module = scope.imports.get(module or name, module or "")
    dialect = next(
        (
            DIALECT_NAMES[part]
            for part in module.split(".")
            if part in DIALECT_NAMES
        ),
        None,
    )
    options = _type_options(call, scope)
    if name.upper() in {"FLOAT", "NUMERIC", "DECIMAL"} and "length" in options:
        options["precision"] = options.pop("length")
    return TypeInfo.named(name, dialect=dialect, **options)


def _type_options(call: ast.Call | None, scope: Scope) -> dict:
    if call is None:
        return {}
    values = {k.arg: k.value for k in call.keywords if k.arg}
    first = call.args[0] if call.args else None
    length = values.get("length", values.get("precision", first))
    number = length.value if isinstance(length, ast.Constant) else None
    options: dict = {}
    if isinstance(number, int) and not isinstance(number, bool):
        key = "precision" if "precision" in values else "length"
        options[key] = number
    if boolean(values.get("timezone"), scope):
        options["timezone"] = True
    fsp = values.get("fsp")
    if isinstance(fsp, ast.Constant) and isinstance(fsp.value, int):
        options["fsp"] = fsp.value
    return options
