"""After a failed apply or verification: the truth, and how to go back.

No dump is restored automatically. Where DDL is transactional
(PostgreSQL, SQLite with the kit's driver recipe) the failing revision
rolled itself back; on MariaDB its DDL may have committed. Either way the
report says which revisions of the run are committed, the revision now,
the statement that failed and what was left behind (schema differences
from that revision, an INVALID index of a failed concurrent build), and
keeps the backup with the command that would restore it -- and what that
restore would discard: the writes since the backup, per table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from dblab import migrate, safety, targets
from dblab.deploy.plan import Plan
from dblab.deploy.preflight import drift
from dblab.safety import Backup
from dblab.safety.discards import Discards, since_backup
from dblab.steps import one_line


@dataclass
class Aftermath:
    """What a failed deploy left, and what going back would cost."""

    error: str
    now: tuple[str, ...]
    committed: list[str] = field(default_factory=list)
    statement: str | None = None
    leftovers: list[str] = field(default_factory=list)
    backup: Backup | None = None
    discards: Discards | None = None
    restore_command: str | None = None

    def lines(self) -> list[str]:
        now = ", ".join(self.now) or "base"
        lines = [
            f"  今の revision (now at): {now}; この実行で確定した revision "
            f"(committed by this run): {', '.join(self.committed) or 'なし'}"
        ]
        if self.statement:
            lines.append(f"  失敗した文 (failed statement): {self.statement}")
        if self.leftovers:
            lines.append(
                "  残ったもの (left behind): " + "; ".join(self.leftovers)
            )
        else:
            lines.append("  残ったもの (left behind): なし (none)")
        if self.backup is not None:
            lines.append(f"  バックアップ (kept): {self.backup.path}")
        if self.restore_command:
            lines.append(
                "  復元するなら (to restore, explicitly): "
                f"{self.restore_command}"
            )
            lines.append(
                "  復元で失われる書き込み (a restore discards): "
                f"{self.discards if self.discards is not None else '不明'}"
            )
        return lines


def failed_statement(error: BaseException) -> str | None:
    """The SQL statement behind ``error`` (its cause chain), in one line."""
    seen = error
    for _ in range(5):
        if isinstance(seen, sa.exc.StatementError) and seen.statement:
            return " ".join(seen.statement.split())[:200]
        seen = seen.__cause__ or seen.__context__
        if seen is None:
            return None
    return None


def invalid_indexes(engine: sa.Engine) -> list[str]:
    """PostgreSQL's INVALID indexes (a failed CREATE INDEX CONCURRENTLY)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as connection:
        names = connection.exec_driver_sql(
            "SELECT indexrelid::regclass::text FROM pg_index "
            "WHERE NOT indisvalid"
        ).scalars()
        return [f"INVALID index {name}" for name in names]


def aftermath(
    where: targets.Targets,
    name: str,
    plan: Plan,
    backup: Backup | None,
    error: BaseException,
    tools: safety.Tools = None,
) -> Aftermath:
    """Look at the target after ``error`` and say what is true."""
    target = where[name]
    target.engine.dispose()
    now = migrate.current(target)
    scripts = migrate.script(migrate.config(**where.options()))
    reached = set()
    for revision in now:
        reached |= {
            s.revision for s in scripts.iterate_revisions(revision, "base")
        }
    result = Aftermath(
        error=one_line(error),
        now=now,
        committed=[r for r in plan.pending if r in reached],
        statement=failed_statement(error),
        backup=backup,
    )
    try:
        result.leftovers = drift(where, target, now) + invalid_indexes(
            target.engine
        )
    except Exception as problem:  # the report must still be made
        result.leftovers = [
            f"調べられません (cannot inspect): {one_line(problem)}"
        ]
    if backup is not None:
        result.restore_command = (
            f"dblab deploy --target {name} --restore {backup.path}"
        )
        try:
            result.discards = since_backup(backup, target, tools=tools)
        except Exception:
            result.discards = None
    return result
