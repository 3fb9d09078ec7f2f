"""EXPLAIN of named queries, compared before and after an upgrade."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

Query = str | sa.Executable


@dataclass
class PlanChange:
    """EXPLAIN of one named query before and after the upgrade."""

    query: str
    before: str
    after: str
    full_scan_before: bool
    full_scan_after: bool

    @property
    def verdict(self) -> str:
        if self.full_scan_after and not self.full_scan_before:
            return "悪化 (regressed: full scan)"
        if self.full_scan_before and not self.full_scan_after:
            return "改善 (improved)"
        return "同じ (same)" if self.before == self.after else "変化 (changed)"

    @property
    def regressed(self) -> bool:
        return self.full_scan_after and not self.full_scan_before


def compiled(engine: Engine, query: Query) -> str:
    """``query`` as SQL text for ``engine``'s dialect, values inlined."""
    if isinstance(query, str):
        return query
    return str(
        query.compile(
            dialect=engine.dialect, compile_kwargs={"literal_binds": True}
        )
    )


def explain(engine: Engine, query: Query) -> tuple[str, bool]:
    """The plan of ``query`` in one line, and whether it scans a table."""
    sql = compiled(engine, query)
    name = engine.dialect.name
    with engine.connect() as connection:
        if name == "postgresql":
            # On a small table the planner rightly prefers a sequential
            # scan; with seq scans priced out it shows whether an index
            # CAN serve the query, which is what a rehearsal compares.
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = connection.exec_driver_sql(f"EXPLAIN {sql}").scalars()
            nodes = []
            for line in rows:
                text = line.strip().removeprefix("->").strip()
                text = text.split("  (cost=")[0]
                if text and not re.match(r"^[A-Za-z ]+:", text):
                    nodes.append(text)
            connection.rollback()
            return " / ".join(nodes), any("Seq Scan" in n for n in nodes)
        if name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            details = [row[-1] for row in rows]
            return " / ".join(details), any(
                d.startswith("SCAN ") for d in details
            )
        rows = connection.exec_driver_sql(f"EXPLAIN {sql}").mappings().all()
        parts = [
            f"{r['table']}: {r['type']} key={r['key']}"
            if r["table"]
            else str(r["Extra"])
            for r in rows
        ]
        return " / ".join(parts), any(r["type"] == "ALL" for r in rows)


def compare(
    before: dict[str, tuple[str, bool]], engine: Engine, queries
) -> list[PlanChange]:
    """``before`` (name → explain) against the plans on ``engine`` now."""
    changes = []
    for name, query in queries.items():
        old, old_scan = before[name]
        new, new_scan = explain(engine, query)
        changes.append(PlanChange(name, old, new, old_scan, new_scan))
    return changes
