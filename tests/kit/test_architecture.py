"""The package's shape: short modules, layers that point one way.

The limits and the layer order are the ones ``docs/architecture.md``
states; a change that breaks them fails here with the place named.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
LIMITS = {"module": 450, "class": 250, "function": 80}

#: Lower number = lower layer. A module may import its own layer or below.
LAYERS = {
    "dblab.errors": 0,
    "dblab.expecting": 0,
    "dblab.settings": 1,
    "dblab.servers": 2,
    "dblab.progress": 2,  # notebooks and checks imported lazily
    "dblab.sandbox": 3,
    "dblab.targets": 5,  # prepares targets with migrate
    "dblab.revisions": 3,
    "dblab.schema": 3,
    "dblab.sqllog": 3,
    "dblab.migrate": 4,
    "dblab.alembic_command": 4,
    "dblab.seed": 4,
    "dblab.batching": 5,
    "dblab.lint": 5,
    "dblab.steps": 5,
    "dblab.traffic": 5,
    "dblab.safety": 6,
    "dblab.deploy": 7,
    "dblab.checks": 8,
    "dblab.bench": 8,
    "dblab.reset": 8,
    "dblab.doctor": 9,
    "dblab.notebooks": 9,
    "dblab.cli": 9,
    "dblab.__main__": 9,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _layer(name: str) -> int | None:
    while name:
        if name in LAYERS:
            return LAYERS[name]
        name = name.rpartition(".")[0]
    return None


def _imports(path: Path) -> set[str]:
    """Modules imported at module level (not inside functions)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                continue
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return {name for name in names if name in MODULES}


def _too_long(modules: dict[str, Path], root: Path) -> list[str]:
    found = []
    for _, path in sorted(modules.items()):
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > LIMITS["module"]:
            found.append(f"{path.relative_to(root)}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                kind = "class"
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                kind = "function"
            else:
                continue
            first = min(
                [node.lineno] + [d.lineno for d in node.decorator_list]
            )
            length = node.end_lineno - first + 1
            if length > LIMITS[kind]:
                found.append(
                    f"{path.relative_to(root)}:{node.lineno} {kind} "
                    f"{node.name}: {length} lines"
                )
    return found


def test_no_module_class_or_function_over_its_limit():
    assert _too_long(MODULES, ROOT) == []


def test_the_size_check_can_fail(tmp_path):
    long = tmp_path / "long.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(90))
    long.write_text(f"def f():\n{body}\n", encoding="utf-8")
    found = _too_long({"dblab.long": long}, tmp_path)
    assert found == ["long.py:1 function f: 91 lines"]


def test_app_never_imports_dblab():
    for name, path in MODULES.items():
        if name.startswith("app"):
            assert not any(
                imported.startswith("dblab") for imported in _imports(path)
            ), name


@pytest.mark.parametrize(
    "name", sorted(n for n in MODULES if n.startswith("dblab."))
)
def test_layers_point_one_way(name):
    mine = _layer(name)
    assert mine is not None, f"{name}: place it in LAYERS"
    upward = [
        imported
        for imported in _imports(MODULES[name])
        if (other := _layer(imported)) is not None
        and other > mine
        and not imported.startswith(name)
    ]
    assert upward == [], f"{name} (layer {mine}) imports {upward}"


def test_no_import_cycle():
    graph = {name: _imports(path) - {name} for name, path in MODULES.items()}
    seen: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph[node]):
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue  # a package and its own submodules
            if seen.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt) :] + [nxt])
            elif nxt not in seen:
                visit(nxt, [*trail, nxt])
        seen[node] = 2

    for name in sorted(graph):
        if name not in seen:
            visit(name, [name])
    assert cycles == []
