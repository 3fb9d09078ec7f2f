"""The deck's npm packages install on the Node the README names, offline.

``npm ci`` warns EBADENGINE for every locked package whose ``engines.node``
excludes the running Node, and ``playwright-chromium``'s install script
downloads a browser (which fails offline). These tests read the lock file
and package.json, so a version bump that brings either back fails here,
with no network and no Node needed.
"""

from __future__ import annotations

import json
import re

import pytest
import slidedeck

README_NODE = (20, 19, 0)  # the oldest Node the README promises
LOCK = slidedeck.SLIDES / "package-lock.json"
PACKAGE = slidedeck.SLIDES / "package.json"


def version(text: str) -> tuple[int, int, int]:
    parts = [p for p in re.split(r"[.]", text.strip().lstrip("v")) if p]
    numbers = [0 if p in {"x", "*", "X"} else int(p) for p in parts]
    return tuple((numbers + [0, 0, 0])[:3])


def _wild(text: str) -> int:
    """How many leading parts of a version are fixed (``16.x`` -> 1)."""
    parts = [p for p in text.split(".") if p]
    fixed = 0
    for part in parts:
        if part in {"x", "*", "X"}:
            break
        fixed += 1
    return fixed


def satisfies(node: tuple[int, int, int], comparator: str) -> bool:
    match = re.fullmatch(r"(>=|<=|>|<|\^|~|=)?\s*(\S+)", comparator)
    operator, text = match.group(1) or "=", match.group(2)
    wanted = version(text)
    if operator == ">=":
        return node >= wanted
    if operator == ">":
        return node > wanted
    if operator == "<=":
        return node <= wanted
    if operator == "<":
        return node < wanted
    if operator == "^":
        return node >= wanted and node[0] == wanted[0]
    if operator == "~":
        return node >= wanted and node[:2] == wanted[:2]
    fixed = _wild(text) if re.search(r"[x*X]|^\d+(\.\d+)?$", text) else 3
    return node[:fixed] == wanted[:fixed]


def accepts(node: tuple[int, int, int], spec: str) -> bool:
    """True when an ``engines.node`` range admits ``node``."""
    for clause in spec.split("||"):
        comparators = re.findall(r"(?:>=|<=|>|<|\^|~|=)?\s*[\w.*]+", clause)
        if comparators and all(satisfies(node, c) for c in comparators):
            return True
    return False


@pytest.mark.parametrize(
    ("spec", "node", "expected"),
    [
        (">=22.12.0", (20, 19, 0), False),  # Slidev 53: the EBADENGINE
        ("^22.18.0 || >=24.11.0", (20, 19, 0), False),
        (">= 22.22", (20, 20, 2), False),
        ("^20.19.0 || >=22.12.0", (20, 19, 0), True),
        ("^20.19.0 || >=22.12.0", (20, 12, 0), False),
        (">=16.x", (20, 19, 0), True),
        ("6.* || 8.* || >= 10.*", (20, 19, 0), True),
        ("6.* || 8.*", (20, 19, 0), False),
        ("^18.0.0 || >=20.0.0", (20, 19, 0), True),
    ],
)
def test_engine_ranges_are_read_like_npm(spec, node, expected) -> None:
    assert accepts(node, spec) is expected


def test_every_locked_package_accepts_the_readme_node() -> None:
    lock = json.loads(LOCK.read_text(encoding="utf-8"))
    refused = [
        f"{name.removeprefix('node_modules/')}@{entry.get('version')}: "
        f"node {entry['engines']['node']}"
        for name, entry in lock["packages"].items()
        if isinstance(entry.get("engines"), dict)
        and "node" in entry["engines"]
        and not accepts(README_NODE, entry["engines"]["node"])
    ]
    assert not refused, (
        "Node 20 で EBADENGINE になるパッケージ (lock file):\n"
        + "\n".join(refused)
    )
    slidev = lock["packages"]["node_modules/@slidev/cli"]
    assert accepts(README_NODE, slidev["engines"]["node"])


def test_no_locked_package_downloads_a_browser_on_install() -> None:
    package = json.loads(PACKAGE.read_text(encoding="utf-8"))
    # Slidev's export imports the package named playwright-chromium;
    # playwright-core under that name has no install script.
    alias = package["devDependencies"]["playwright-chromium"]
    assert alias.startswith("npm:playwright-core@"), alias
    lock = json.loads(LOCK.read_text(encoding="utf-8"))
    scripts = sorted(
        name.removeprefix("node_modules/")
        for name, entry in lock["packages"].items()
        if entry.get("hasInstallScript")
    )
    # esbuild's script only checks its binary; nothing else may run one
    assert set(scripts) <= {"esbuild"}, scripts
