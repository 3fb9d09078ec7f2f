"""The guarded upgrade: fingerprint → backup → verify → upgrade → check.

On failure it restores the verified backup (see :func:`guarded_upgrade`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from dblab import migrate, settings
from dblab.errors import DblabError
from dblab.safety.backups import Backup, backup, writable_folder
from dblab.safety.databases import (
    BackupError,
    Database,
    database_name,
    engine_of,
)
from dblab.safety.discards import Discards, since_backup
from dblab.safety.fingerprints import Fingerprint, fingerprint
from dblab.safety.health import Check, integrity_problems, run_check
from dblab.safety.restores import restore_in_place, verify_backup
from dblab.safety.tools import TOOLS, Tools, find_tool
from dblab.servers import KitDatabase
from dblab.steps import Step, StepLog, one_line


class GuardError(DblabError):
    """The guarded upgrade stopped; ``report`` shows after which step."""

    def __init__(self, message: str, report: GuardReport | None = None):
        super().__init__(message)
        self.report = report


STEPS = {
    "preflight": "事前確認 (preflight)",
    "fingerprint": "指紋 (fingerprint)",
    "backup": "バックアップ (backup)",
    "verify": "復元の確認 (verify)",
    "upgrade": "適用 (upgrade)",
    "check": "検査 (check)",
    "restore": "復元 (restore)",
}


@dataclass(repr=False)
class GuardReport(StepLog):
    """What the guarded upgrade did, step by step (print it)."""

    NAMES = STEPS

    database: str
    backend: str
    to: str
    steps: list[Step] = field(default_factory=list)
    revision_before: tuple[str, ...] = ()
    revision_after: tuple[str, ...] = ()
    backup: Backup | None = None
    before: Fingerprint | None = None
    after: Fingerprint | None = None
    error: str | None = None
    restored: bool = False
    discarded: Discards | None = None  # writes a restore lost (or would)

    @property
    def ok(self) -> bool:
        """True when the upgrade and the check passed."""
        return self.error is None and not self.restored

    @property
    def outcome(self) -> str:
        if self.ok:
            now = ", ".join(self.revision_after) or "base"
            return f"成功 (upgraded to {now})"
        if self.restored:
            now = ", ".join(self.revision_before) or "base"
            return f"失敗、復元済み (failed; restored to {now}): {self.error}"
        if self.discarded is not None:
            now = ", ".join(self.revision_after) or "base"
            return (
                f"失敗、復元はしていません (failed; not restored, now at "
                f"{now}): {self.error}。戻すなら safety.restore_in_place("
                f"report.backup, db) (失う書き込み: {self.discarded})"
            )
        return f"中止 (stopped): {self.error}"

    def raise_for_failure(self) -> None:
        """Raise :class:`GuardError` unless the upgrade succeeded."""
        if not self.ok:
            raise GuardError(self.outcome, self)

    def __repr__(self) -> str:
        return (
            f"GuardReport({self.database!r}, ok={self.ok}, "
            f"restored={self.restored})"
        )

    def __str__(self) -> str:
        label = settings.BACKENDS.get(self.backend, self.backend)
        lines = [
            f"安全な適用 (guarded upgrade): {self.database} ({label})"
            f" → {self.to}"
        ]
        lines += self.step_lines(seconds=True)
        lines.append(f"結果: {self.outcome}")
        return "\n".join(lines)


def guarded_upgrade(
    db: Database,
    to: str = "head",
    *,
    backup_dir: str | Path | None = None,
    config: Config | None = None,
    use_backup: str | Path | Backup | None = None,
    check: Check | None = None,
    tools: Tools = None,
    server: URL | None = None,
    restore: bool = False,
) -> GuardReport:
    """Upgrade ``db`` to revision ``to``, proven backup first.

    Steps: preflight (backup folder writable, dump tools present, ``to``
    known, ``use_backup`` intact) → fingerprint → backup (or
    ``use_backup``, which must match the data now) → verify (a trial
    restore into a scratch database) → upgrade (``dblab.migrate``, or
    Alembic with ``config`` when ``db`` is an Engine) → check (``to`` is
    current, SQLite's integrity check, and ``check``: see
    :func:`dblab.safety.health.run_check`) → restore, only when the
    upgrade or check failed AND ``restore=True`` was asked for.

    A restore takes the database back to the backup and discards every
    write since, so it is never automatic: where DDL is transactional
    (PostgreSQL, SQLite with the kit's recipe) a failing revision has
    already rolled itself back; on MariaDB its DDL may have committed.
    Without ``restore=True`` the report says what is true (revision now,
    the backup, and what a restore would discard, per table).

    A problem before the upgrade raises :class:`GuardError` and nothing is
    changed. A failed upgrade returns a report with ``ok`` False
    (``restored`` True when it was restored on request); a restore that
    does not give back the backup's data raises :class:`GuardError`.
    """
    migrator = _Migrator(db, config)
    report = GuardReport(
        database=database_name(db),
        backend=migrator.engine.url.get_backend_name(),
        to=to,
    )
    try:
        expected, given = _prepare(report, migrator, db, backup_dir, tools)
        given = _given_backup(report, db, given, use_backup, tools)
        _verify(report, given, server or _server_of(db), tools)
    except DblabError as error:
        report.error = str(error)
        raise GuardError(
            "安全な適用を中止しました。データベースは変更していません "
            f"(stopped before any change): {error}",
            report,
        ) from None
    failed = _Failure()
    with _failure_kept(failed), report.step("upgrade") as step:
        migrator.upgrade(to)
        report.revision_after = migrator.current()
        step.detail = f"revision {', '.join(report.revision_after) or 'base'}"
    if failed.error is None:
        with _failure_kept(failed), report.step("check") as step:
            step.detail = migrator.check(expected, check)
    else:
        report.skip("check", "適用が失敗したため (upgrade failed)")
    if failed.error is None:
        report.skip("restore", "不要 (not needed)")
        return report
    report.error = failed.error
    if restore:
        _restore(report, given, db, migrator, tools, server)
    else:
        report.revision_after = migrator.current()
        report.discarded = since_backup(given, db, server, tools=tools)
        report.skip(
            "restore",
            "自動では復元しません (not restored automatically; "
            f"a restore would discard: {report.discarded})",
        )
    if failed.interrupt is not None:
        raise failed.interrupt
    return report


def _prepare(
    report: GuardReport,
    migrator: _Migrator,
    db: Database,
    backup_dir: str | Path | None,
    tools: Tools,
) -> tuple[tuple[str, ...] | None, Path]:
    """Preflight and fingerprint; the expected revisions, the folder."""
    with report.step("preflight") as step:
        folder = writable_folder(backup_dir)
        found = [find_tool(n, tools) for n in TOOLS.get(report.backend, ())]
        report.revision_before = migrator.current()
        expected = migrator.expected(report.to)
        now = ", ".join(report.revision_before) or "base"
        step.detail = f"revision {now} → {report.to}; {folder}"
        if found:
            step.detail += f"; {', '.join(Path(p).name for p in found)}"
    with report.step("fingerprint") as step:
        report.before = fingerprint(migrator.engine)
        rows = sum(t.rows for t in report.before.values())
        step.detail = f"{len(report.before)} 表, {rows} 行 (tables, rows)"
    return expected, folder


def _given_backup(
    report: GuardReport,
    db: Database,
    folder: Path,
    use_backup: str | Path | Backup | None,
    tools: Tools,
) -> Backup:
    """A new backup, or ``use_backup`` when it matches the data now."""
    with report.step("backup") as step:
        if use_backup is None:
            given = backup(db, folder, tools=tools)
            step.detail = f"{given.path.name} ({given.size} bytes)"
        else:
            given = Backup.open(use_backup)
            stale = given.fingerprint.differences(report.before or {})
            if stale:
                step.detail = "; ".join(stale)
                raise BackupError(
                    f"バックアップ {given.path.name} は今のデータと一致"
                    f"しません (backup is stale): {'; '.join(stale)}"
                )
            step.detail = f"{given.path.name} を使う (given backup)"
    report.backup = given
    return given


def _verify(
    report: GuardReport,
    given: Backup,
    server: URL | Database,
    tools: Tools,
) -> None:
    with report.step("verify") as step:
        verified = verify_backup(given, server, tools=tools)
        if not verified.ok:
            step.detail = "; ".join(verified.differences)
            raise BackupError(
                "試しに復元した結果が元と一致しません (fingerprint "
                f"mismatch after restore): {step.detail}"
            )
        step.detail = "指紋が一致 (fingerprints match)"


def _restore(
    report: GuardReport,
    given: Backup,
    db: Database,
    migrator: _Migrator,
    tools: Tools,
    server: URL | None,
) -> None:
    try:
        with report.step("restore") as step:
            report.discarded = since_backup(given, db, server, tools=tools)
            report.after = restore_in_place(
                given, db, tools=tools, server=server
            )
            differences = given.fingerprint.differences(report.after)
            if differences:
                raise BackupError(
                    "復元後の指紋が適用前と一致しません (fingerprint "
                    f"mismatch after restore): {'; '.join(differences)}"
                )
            report.restored = True
            report.revision_after = migrator.current()
            step.detail = (
                "バックアップと同じ指紋 (fingerprint equals the backup's); "
                f"失った書き込み (discarded): {report.discarded}"
            )
    except Exception as error:
        raise GuardError(
            f"適用に失敗し ({report.error})、復元もできませんでした "
            f"(restore failed: {one_line(error)})。バックアップ "
            f"{given.path} から手で戻してください。",
            report,
        ) from None


@dataclass
class _Failure:
    error: str | None = None
    interrupt: BaseException | None = None


@contextmanager
def _failure_kept(failure: _Failure) -> Iterator[None]:
    """Record an exception of the upgrade or check instead of raising it."""
    try:
        yield
    except Exception as error:
        failure.error = one_line(error)
    except KeyboardInterrupt as error:  # restore first, then stop
        failure.error = "中断されました (interrupted)"
        failure.interrupt = error


class _Migrator:
    """Alembic on a sandbox (``dblab.migrate``) or on an Engine + Config."""

    def __init__(self, db: Database, config: Config | None) -> None:
        self.engine = engine_of(db)
        self.sandbox = None
        if config is None:
            if not isinstance(db, KitDatabase):
                raise GuardError(
                    "Engine を渡すときは Alembic の config も渡してください "
                    "(config= is required with an Engine)"
                )
            self.sandbox = db  # dblab.migrate explains its errors
            config = migrate.config(db)
        else:
            config.attributes["connection"] = self.engine
        self.config = config

    def current(self) -> tuple[str, ...]:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_heads()

    def expected(self, to: str) -> tuple[str, ...] | None:
        """The revisions ``to`` names, None for a relative one."""
        if any(sign in to for sign in "+-"):
            return None
        try:
            scripts = ScriptDirectory.from_config(self.config)
            found = scripts.get_revisions(to)
        except Exception as error:
            raise BackupError(
                f"revision {to!r} を解決できません (cannot resolve revision): "
                f"{one_line(error)}"
            ) from None
        return tuple(sorted(s.revision for s in found if s is not None))

    def upgrade(self, to: str) -> None:
        if self.sandbox is not None:
            migrate.upgrade(self.sandbox, to)
        else:
            command.upgrade(self.config, to)

    def check(
        self,
        expected: tuple[str, ...] | None,
        check: Check | None,
    ) -> str:
        now = tuple(sorted(self.current()))
        if expected is not None and now != expected:
            raise BackupError(
                f"revision が {now} で、期待した {expected} ではありません "
                "(not at the target revision)"
            )
        done = ["revision OK"]
        problems = integrity_problems(self.engine)
        if problems:
            raise BackupError(problems[0])
        if self.engine.dialect.name == "sqlite":
            done.append("integrity_check OK")
        if check is not None:
            verdict = run_check(check, self.engine)
            if verdict is not None:
                raise BackupError(
                    f"check が失敗しました (check failed): {verdict}"
                )
            done.append("check OK")
        return ", ".join(done)


def _server_of(db: Database) -> URL | Database:
    if isinstance(db, KitDatabase) and db.server is not None:
        return db.server
    return db
