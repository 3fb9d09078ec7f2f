"""One revision file read: its header, waivers and ``upgrade()`` ops.

A file that cannot be read (not UTF-8, a syntax error) is a
:class:`LintError` of one line naming it; the caller reports it and goes on
with the other files.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from dblab.lint.finding import LintError, shown
from dblab.lint.ops import Op
from dblab.lint.reader import Reader
from dblab.lint.values import Scope

WAIVER = re.compile(r"#\s*dblab-lint:\s*ignore\[([A-Z0-9, ]+)\]\s*(.*)")
HEADER = ("revision", "down_revision", "branch_labels", "depends_on")


@dataclass
class Revision:
    """What the linter knows of one revision file."""

    path: Path
    tree: ast.Module
    revision: str | None
    down_revision: tuple[str, ...]
    branch_labels: tuple[str, ...] = ()
    ops: list[Op] = field(default_factory=list)
    upgrade: ast.FunctionDef | None = None
    downgrade: ast.FunctionDef | None = None
    waivers: dict[str, str] = field(default_factory=dict)
    waiver_lines: dict[str, int] = field(default_factory=dict)
    downgrade_explained: bool = False  # a comment or docstring says why


def parse(path: Path) -> Revision:
    """Read one revision file; unreadable input is a one-line LintError."""
    try:
        source = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise LintError(
            f"{shown(path)}: UTF-8 で読めません (not UTF-8, byte "
            f"{error.start})。ファイルを UTF-8 で保存し直してください"
        ) from None
    except OSError as error:
        raise LintError(
            f"{shown(path)}: 読めません (unreadable: {error.strerror})"
        ) from None
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        line = getattr(error, "lineno", None) or 1
        message = getattr(error, "msg", str(error))
        raise LintError(
            f"{shown(path)}:{line}: 構文エラー (syntax error): "
            f"{message}。ファイルを直してから、もう一度実行してください"
        ) from None
    scope = module_scope(tree)
    header = {name: _literal(scope.names.get(name)) for name in HEADER}
    functions = {
        n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)
    }
    revision = Revision(
        path,
        tree,
        header["revision"] if isinstance(header["revision"], str) else None,
        _names(header["down_revision"]),
        _names(header["branch_labels"]),
        _ops(path, tree, scope),
        functions.get("upgrade"),
        functions.get("downgrade"),
    )
    lines = source.splitlines()
    revision.downgrade_explained = _explained(revision.downgrade, lines)
    for number, line in enumerate(lines, 1):
        match = WAIVER.search(line)
        if match:
            for code in match.group(1).replace(" ", "").split(","):
                revision.waivers[code] = match.group(2).strip()
                revision.waiver_lines[code] = number
    return revision


def _ops(path: Path, tree: ast.Module, scope: Scope) -> list[Op]:
    try:
        return Reader(tree, scope).read()
    except (RecursionError, ValueError, TypeError, AttributeError) as error:
        raise LintError(
            f"{shown(path)}: このファイルを読めませんでした (internal error: "
            f"{type(error).__name__}: {error})。dblab に報告してください"
        ) from None


def is_revision(path: Path) -> bool:
    """A file that assigns ``revision`` / ``down_revision`` at the top."""
    try:
        head = path.read_bytes()[:20000].decode("utf-8", "replace")
    except OSError:
        return True  # let parse() report it
    return bool(re.search(r"^(down_)?revision\b", head, re.M))


def module_scope(tree: ast.Module) -> Scope:
    """Module-level constants and imported names."""
    scope = Scope()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                scope.assign(target, node.value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            scope.assign(node.target, node.value)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                scope.imports[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                module = node.module if alias.name[:1].isupper() else full
                scope.imports[alias.asname or alias.name] = module
    return scope


def _explained(function: ast.FunctionDef | None, lines: list[str]) -> bool:
    """A reason in or just above ``function``: a comment (not Alembic's
    generated ``# ### commands ... ###``) or a docstring (not a template's
    ``Unapply …``)."""
    if function is None:
        return False
    docstring = (ast.get_docstring(function) or "").lower()
    if docstring and not docstring.startswith(("unapply", "downgrade")):
        return True  # not a template's "Unapply <message>"
    start = function.lineno - 2  # the line above ``def``
    end = function.end_lineno or function.lineno
    return any(
        line.strip().startswith("#") and not line.strip().startswith("# ###")
        for line in lines[max(0, start) : end]
    )


def _literal(node: ast.AST | None) -> object:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None


def _names(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def is_empty(function: ast.FunctionDef | None) -> bool:
    """``pass``, ``...``, a docstring or a lone ``raise``."""
    if function is None:
        return True
    body = [
        n
        for n in function.body
        if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
        and not isinstance(n, ast.Pass)
    ]
    return not body or (len(body) == 1 and isinstance(body[0], ast.Raise))
