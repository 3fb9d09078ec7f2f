"""Verification after the apply: what the plan changes, on a live target.

The schema changes must be the rehearsed ones; current == heads;
``alembic check`` clean; integrity; the app's queries, models and checks
pass on the target. Rows written meanwhile by others are not a
difference: the database is in use, and comparing the fingerprints of
tables the plan does not touch would fail on every write.
"""

from __future__ import annotations

from collections.abc import Mapping

from dblab import migrate, schema
from dblab.deploy.plan import Plan
from dblab.deploy.preflight import DeployError
from dblab.deploy.rehearsal import App, Rehearsal, check_app, first_lines
from dblab.safety.health import integrity_problems
from dblab.servers import KitDatabase


def verify(
    target: KitDatabase,
    plan: Plan,
    record: Mapping[str, object],
    before: schema.Snapshot,
    app: App,
    options: dict[str, object],
) -> str:
    """One line of what passed; :class:`DeployError` on a difference.

    ``before``: the target's schema before the apply; ``record``: the
    rehearsal's; ``options``: for :mod:`dblab.migrate`.
    """
    problems = []
    now = tuple(sorted(migrate.current(target)))
    if now != plan.heads:
        problems.append(f"current {now} != heads {plan.heads}")
    after = schema.snapshot(target.engine, count_rows=False)
    changes = schema.diff(before, after).changes
    if changes != list(record.get("schema_changes") or []):
        problems.append(
            f"スキーマの変化がリハーサルと違う (schema changes differ): "
            f"{changes}"
        )
    drift = migrate.check(target, **options)
    if drift:
        problems.append(f"alembic check: {first_lines(drift)}")
    problems += integrity_problems(target.engine)
    checked = Rehearsal(True, str(target.url.database))
    check_app(checked, target.engine, app)
    problems += checked.problems
    if problems:
        raise DeployError(
            "検証で違いが見つかりました (verification failed): "
            + "; ".join(problems)
        )
    return (
        f"スキーマの変化 {len(changes)} 件はリハーサルどおり、"
        "current == heads、alembic check OK、"
        f"アプリの確認 {len(checked.checks)} 件 OK"
    )
