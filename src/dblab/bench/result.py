"""One measured row of a ``dblab bench`` table, and how its cells read."""

from __future__ import annotations

import dataclasses
import importlib.metadata

import sqlalchemy as sa

HEADERS = {
    "backend": "DB",
    "size": "行数",
    "label": "方法",
    "seconds": "秒",
    "rows_per_s": "行/秒",
    "ratio_to_raw": "素のドライバ比",
    "worst_stall_ms": "最大停止ms",
    "p99_stall_ms": "p99停止ms",
    "writes": "書込数",
    "versions": "バージョン",
}
"""Column headers of the text table, by :class:`Result` field."""

TEXT_COLUMNS = ("backend", "label", "versions")
"""Columns aligned left; every other column is a number."""


@dataclasses.dataclass
class Result:
    """One measured row of the table (every field goes to the CSV)."""

    section: str
    backend: str
    size: int
    method: str
    label: str
    seconds: float | None
    rows_per_s: float | None = None
    ratio_to_raw: float | None = None
    worst_stall_ms: float | None = None
    p99_stall_ms: float | None = None
    writes: int | None = None
    note: str = ""
    server: str = ""
    driver: str = ""
    sqlalchemy: str = sa.__version__
    alembic: str = importlib.metadata.version("alembic")
    versions: str = ""


def cell(result: Result, column: str) -> str:
    """The text of one cell: ``—`` for a value not measured."""
    value = getattr(result, column)
    if value is None:
        return "—"
    if column in ("size", "writes"):
        return f"{value:,}"
    if column == "seconds":
        return f"{value:.3f}"
    if column == "rows_per_s":
        return f"{value:,.0f}"
    if column == "ratio_to_raw":
        return f"{value:.2f}×"
    if column.endswith("_ms"):
        return f"{value:,.1f}"
    return str(value)
