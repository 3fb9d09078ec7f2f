"""The plan: the pending revisions of a target, their SQL and lint findings.

Only the pending revisions (``<current>:heads``, dbt's
``state:modified+``) are planned; their offline SQL is for review.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from dblab import lint, migrate
from dblab.errors import DblabError
from dblab.servers import KitDatabase


@dataclass
class Plan:
    """The pending revisions of a target, their SQL and lint findings."""

    target: str
    current: tuple[str, ...]
    heads: tuple[str, ...]
    revisions: list[tuple[str, str]]  # (revision, first docstring line)
    sql: str
    findings: list[lint.Finding]
    files_hash: str
    to: str = "heads"

    @property
    def range(self) -> str:
        """``<current>:<heads>`` as Alembic writes it."""
        start = ",".join(self.current) or "base"
        return f"{start}:{','.join(self.heads)}"

    @property
    def pending(self) -> list[str]:
        return [revision for revision, _ in self.revisions]

    def findings_of(self, revision: str) -> list[lint.Finding]:
        """Lint findings in the file of ``revision``."""
        return [f for f in self.findings if revision in f.path.name]

    def __str__(self) -> str:
        lines = [f"計画 (plan) {self.target}: {self.range}"]
        if not self.revisions:
            lines.append(
                "  適用待ちの revision はありません (nothing pending)"
            )
        for revision, message in self.revisions:
            found = self.findings_of(revision)
            mark = "⚠" if found else " "
            lines.append(f"  {mark} {revision} {message}")
            for finding in found:
                lines.append(f"      {finding.code} {finding.message}")
        return "\n".join(lines)


def make_plan(
    name: str, target: KitDatabase, to: str, options: dict[str, object]
) -> Plan:
    """The plan of ``target`` (called ``name``) up to revision ``to``."""
    scripts = migrate.script(migrate.config(**options))
    current = migrate.current(target)
    heads = tuple(sorted(s.revision for s in scripts.get_revisions(to)))
    lower = current[0] if len(current) == 1 else "base"
    pending = list(reversed(list(scripts.iterate_revisions(to, lower))))
    sql = ""
    if pending:
        sql = offline_sql(target, f"{lower}:{to}", options)
    # The rules for this database (PER_DATABASE ones included): a plan
    # for PostgreSQL warns of an index built without CONCURRENTLY.
    dialects = [target.url.get_backend_name()]
    findings = [
        f for s in pending for f in lint.lint(Path(s.path), dialects=dialects)
    ]
    return Plan(
        name,
        current,
        heads,
        [(s.revision, (s.doc or "").splitlines()[0]) for s in pending],
        sql,
        findings,
        migrate.files_digest(Path(s.path) for s in pending)[:16],
        to,
    )


def offline_sql(
    target: KitDatabase, revision_range: str, options: dict[str, object]
) -> str:
    """The SQL for review; SQLite's batch mode needs a live database,
    so there the SQL is shown as PostgreSQL would run it."""
    try:
        return migrate.offline_sql(
            None, revision_range, url=target.url, **options
        )
    except DblabError:
        if target.backend != "sqlite":
            raise
    shown = migrate.offline_sql(
        None, revision_range, url=URL.create("postgresql"), **options
    )
    return (
        "-- SQLite のバッチモードはオフラインで SQL を出せないため、"
        "PostgreSQL の方言で表示します\n" + shown
    )
