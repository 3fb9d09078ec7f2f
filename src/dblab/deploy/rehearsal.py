"""The rehearsal: upgrade a copy of the target, check it, compare plans.

What is checked comes from the caller as an :class:`App`: the named
queries whose EXPLAIN plans are compared, the models loaded once, extra
checks, and the metadata ``alembic check`` compares the schema with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine, MetaData
from sqlalchemy.orm import Session

from dblab import migrate, safety, schema
from dblab.deploy.explain import PlanChange, Query, compare, explain
from dblab.deploy.plan import Plan
from dblab.errors import DblabError
from dblab.safety import Backup, Fingerprint
from dblab.safety.health import Check, integrity_problems, run_check
from dblab.servers import KitDatabase
from dblab.steps import one_line


@dataclass
class App:
    """What a rehearsal checks of the application being deployed."""

    queries: Mapping[str, Query] = field(default_factory=dict)
    models: Sequence[type] = ()
    checks: Mapping[str, Check] = field(default_factory=dict)
    metadata: MetaData | None = None


@dataclass
class Rehearsal:
    """What upgrading a copy of the target showed."""

    ok: bool
    database: str
    plans: list[PlanChange] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    changed_tables: list[str] = field(default_factory=list)
    schema_changes: list[str] = field(default_factory=list)
    before: Fingerprint | None = None
    after: Fingerprint | None = None
    backup: Backup | None = None  # the dump the copy was made from

    def frame(self):
        """The EXPLAIN comparison as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(
            [(p.query, p.before, p.after, p.verdict) for p in self.plans],
            columns=["query", "before", "after", "verdict"],
        )

    def __str__(self) -> str:
        head = "成功 (passed)" if self.ok else "失敗 (failed)"
        lines = [f"リハーサル (rehearsal) on {self.database}: {head}"]
        lines += [f"  ✗ {problem}" for problem in self.problems]
        lines += [f"  ✓ {check}" for check in self.checks]
        for change in self.schema_changes:
            lines.append(f"  スキーマ {change}")
        for p in self.plans:
            lines.append(f"  EXPLAIN {p.query}: {p.verdict}")
            lines.append(f"      before: {p.before}")
            lines.append(f"      after:  {p.after}")
        return "\n".join(lines)


def rehearse_on(
    copy: KitDatabase, plan: Plan, app: App, options: dict[str, object]
) -> Rehearsal:
    """Upgrade ``copy`` to the plan's heads and check what ``app`` needs.

    ``options``: for :mod:`dblab.migrate` (versions folder, metadata).
    """
    shown = copy.url.database or ""
    if copy.backend == "sqlite":
        shown = Path(shown).name
    result = Rehearsal(True, shown)
    before = safety.fingerprint(copy)
    shape = schema.snapshot(copy.engine, count_rows=False)
    explained = {n: explain(copy.engine, q) for n, q in app.queries.items()}
    try:
        migrate.upgrade(copy, plan.to, **options)
    except DblabError as error:
        result.ok = False
        result.problems.append(one_line(error))
        return result
    _check_revision_and_models(result, copy, plan, app, options)
    result.problems += integrity_problems(copy.engine)
    check_app(result, copy.engine, app)
    for change in compare(explained, copy.engine, app.queries):
        result.plans.append(change)
        if change.regressed:
            result.problems.append(
                f"クエリ {change.query} が全件走査になりました (slow query: "
                f"{change.before} → {change.after})"
            )
    result.after = safety.fingerprint(copy)
    result.changed_tables = sorted(
        name
        for name in set(before) | set(result.after)
        if before.get(name) != result.after.get(name)
    )
    result.schema_changes = schema.diff(
        shape, schema.snapshot(copy.engine, count_rows=False)
    ).changes
    result.ok = not result.problems
    return result


def _check_revision_and_models(
    result: Rehearsal,
    copy: KitDatabase,
    plan: Plan,
    app: App,
    options: dict[str, object],
) -> None:
    now = tuple(sorted(migrate.current(copy)))
    if now != plan.heads:
        result.problems.append(
            f"revision が {now} で、{plan.heads} ではありません"
        )
    else:
        result.checks.append(f"current == heads ({', '.join(now)})")
    drift = migrate.check(copy, **options)
    if drift:
        result.problems.append(
            f"alembic check: モデルと違います (drift): {first_lines(drift)}"
        )
    else:
        result.checks.append("alembic check: モデルと一致")


def check_app(result: Rehearsal, engine: Engine, app: App) -> None:
    """Run the app's queries, models and checks; note into ``result``."""
    problem = app_queries(engine, app)
    if problem:
        result.problems.append(problem)
    else:
        result.checks.append(
            f"アプリのクエリ {len(app.queries)} 本とモデルの読み込み OK"
        )
    for name, check in app.checks.items():
        verdict = run_check(check, engine)
        if verdict:
            result.problems.append(f"{name}: {verdict}")
        else:
            result.checks.append(f"{name} OK")


def app_queries(engine: Engine, app: App) -> str | None:
    """Run the named queries and load the models; None when fine."""
    try:
        with engine.connect() as connection:
            for query in app.queries.values():
                statement = sa.text(query) if isinstance(query, str) else query
                connection.execute(statement).fetchmany(5)
        with Session(engine) as session:
            for model in app.models:
                session.scalars(sa.select(model).limit(5)).all()
    except sa.exc.SQLAlchemyError as error:
        return (
            "アプリのクエリが失敗しました (app query failed): "
            f"{one_line(error)}"
        )
    return None


def first_lines(text: str) -> str:
    """The first three non-empty lines of ``text`` in one, at most 200."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:3])[:200]
