"""The runbook: the deployment steps for one target, and their report.

Each step takes its inputs and returns its result; the runbook only
coordinates them and records each in its :class:`Report`:

``preflight()`` → ``plan()`` → ``rehearse(plan)`` → ``backup(rehearsal)``
→ ``apply(plan, backup)`` (which verifies), or ``rollback(revision)``.

Failures: a step that refuses before the target changed raises
:class:`DeployError` (one line; its step is marked failed). Once the
target may have changed, the failure is in the returned report
(``report.error``), because then the report is what the reader needs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL

from dblab import migrate, safety, schema, settings, targets
from dblab.deploy import verification
from dblab.deploy.aftermath import Aftermath, aftermath
from dblab.deploy.plan import Plan, make_plan
from dblab.deploy.preflight import DeployError, check_target, shown
from dblab.deploy.records import Records, state_digest
from dblab.deploy.rehearsal import App, Rehearsal, rehearse_on
from dblab.errors import DblabError
from dblab.safety import Backup, Fingerprint
from dblab.safety.discards import Discards, since_backup
from dblab.steps import Step, StepLog

STEPS = {
    "preflight": "事前確認 (preflight)",
    "plan": "計画 (plan)",
    "rehearse": "リハーサル (rehearse)",
    "backup": "バックアップ (backup)",
    "apply": "適用 (apply)",
    "verify": "検証 (verify)",
    "rollback": "ロールバック (rollback)",
    "restore": "復元 (restore, on request)",
}


@dataclass(repr=False)
class Report(StepLog):
    """What ``dblab deploy`` did, step by step (print it)."""

    NAMES = STEPS

    target: str
    backend: str
    dry_run: bool = False
    steps: list[Step] = field(default_factory=list)
    plan: Plan | None = None
    rehearsal: Rehearsal | None = None
    backup: Backup | None = None
    before: Fingerprint | None = None
    after: Fingerprint | None = None
    revision_before: tuple[str, ...] = ()
    revision_after: tuple[str, ...] = ()
    error: str | None = None
    aftermath: Aftermath | None = None
    discarded: Discards | None = None
    restored: bool = False
    rolled_back: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def outcome(self) -> str:
        now = ", ".join(self.revision_after) or "base"
        if self.ok:
            if self.restored:
                return (
                    f"復元完了 (restored to {now}); 失った書き込み "
                    f"(discarded): {self.discarded}"
                )
            if self.rolled_back:
                return f"ロールバック完了 (rolled back to {now})"
            if self.dry_run:
                return "ドライラン完了、何も変更していません (dry run)"
            return f"成功 (deployed; now at {now})"
        if self.aftermath is not None:
            return (
                f"失敗、{self.target} は revision {now} (failed; not "
                f"restored, see above): {self.error}"
            )
        return (
            f"中止、{self.target} は変更していません (stopped): {self.error}"
        )

    def __repr__(self) -> str:
        return f"Report({self.target!r}, ok={self.ok})"

    def __str__(self) -> str:
        label = settings.BACKENDS.get(self.backend, self.backend)
        mode = " --dry-run" if self.dry_run else ""
        lines = [f"dblab deploy --target {self.target}{mode} ({label})"]
        lines += self.step_lines()
        if self.plan is not None and self.plan.revisions:
            lines.append(str(self.plan))
        if self.rehearsal is not None:
            lines.append(str(self.rehearsal))
        if self.aftermath is not None:
            lines += self.aftermath.lines()
        lines.append(f"結果: {self.outcome}")
        return "\n".join(lines)


class Runbook:
    """The deployment steps for one target, callable one by one."""

    def __init__(
        self,
        where: targets.Targets | None = None,
        target: str = "production",
        *,
        to: str = "heads",
        app: App | None = None,
        dry_run: bool = False,
        tools: safety.Tools = None,
    ) -> None:
        self.targets = where or targets.Targets()
        self.name = targets.check_name(target)
        self.to = to
        self.app = app or App()
        self.dry_run = dry_run
        self.tools = tools
        self.target = self.targets[target]
        self.report = Report(target, self.target.backend, dry_run)
        self.records = Records(self.targets.folder / "rehearsals.json")

    @property
    def backups(self) -> Path:
        return self.targets.folder / "backups"

    def _options(self, **extra: object) -> dict[str, object]:
        if self.app.metadata is not None:
            extra.setdefault("metadata", self.app.metadata)
        return self.targets.options(**extra)

    def _key(self, plan: Plan) -> str:
        """Rehearsals are valid for this schema and revision range.

        Not for a fingerprint of every row: on a database in use the data
        moves every second, and the rehearsal's verdict does not.
        """
        shape = schema.snapshot(self.target.engine, count_rows=False)
        state = state_digest(dataclasses.asdict(shape))
        return self.records.key(self.name, state, plan)

    # - the steps -

    def preflight(self) -> tuple[str, ...]:
        """Stop with one line if the target cannot be deployed to."""
        with self.report.step("preflight") as step:
            current, rowless = check_target(self.targets, self.name)
            self.report.revision_before = current
            self.report.revision_after = current
            step.detail = (
                f"{shown(self.target.url)} at "
                f"{', '.join(current) or 'base'}; 未知の revision なし、"
                "ドリフトなし (no drift)"
            )
            if rowless:
                step.detail += (
                    f"; 識別行なし ({', '.join(rowless)}: 古いキットで作成。"
                    "サーバーの識別だけで区別; no identity row)"
                )
        return current

    def plan(self) -> Plan:
        """The pending revisions, their offline SQL and lint findings."""
        with self.report.step("plan") as step:
            plan = make_plan(
                self.name, self.target, self.to, self.targets.options()
            )
            self.report.plan = plan
            step.detail = (
                f"{plan.range}: {len(plan.pending)} revision, "
                f"lint {len(plan.findings)} 件"
            )
            if plan.findings:
                step.status = "warning"
        return plan

    def rehearse(self, plan: Plan) -> Rehearsal:
        """Copy the target, upgrade the copy, check it, record the result.

        Production is copied into staging (for another target or a dry
        run: into a throw-away sandbox).
        """
        with self.report.step("rehearse") as step:
            key = self._key(plan)
            before = safety.fingerprint(self.target)
            item = safety.backup(self.target, self.backups, tools=self.tools)
            copy, scratch = self._copy(item)
            try:
                result = rehearse_on(copy, plan, self.app, self._options())
            finally:
                if scratch:
                    copy.close()
                else:
                    copy.engine.dispose()
            result.before, result.backup = before, item
            self.report.rehearsal = result
            if not self.dry_run:
                self.records.save(key, result, item)
            where = "捨てるコピー" if scratch else "staging"
            step.detail = (
                f"{where} で {'成功' if result.ok else '失敗'}"
                f" ({len(result.plans)} 本の EXPLAIN を比較)"
            )
            if not result.ok:
                step.status = "failed"
        return result

    def _copy(self, item: Backup) -> tuple[targets.Target, bool]:
        """Staging as a copy of production, or a scratch copy."""
        if self.name == "production" and not self.dry_run:
            staging = self.targets["staging"]
            own = targets.read_identity(staging.url)
            safety.copy_into(item, staging, tools=self.tools)
            # The dump brought production's identity row: staging's back.
            targets.write_identity(staging.engine, "staging", again=own)
            return staging, False
        server = self.target.server or URL.create("sqlite")
        return safety.restore(item, server, tools=self.tools), True

    def backup(self, rehearsal: Rehearsal | None = None) -> Backup:
        """A proven backup: the rehearsal's if the data is unchanged."""
        with self.report.step("backup") as step:
            now = safety.fingerprint(self.target)
            self.report.before = now
            item = rehearsal.backup if rehearsal is not None else None
            if item is not None and not item.fingerprint.differences(now):
                step.detail = (
                    "リハーサルのダンプを使う: staging への復元で指紋が一致"
                    "済み (verified by the rehearsal's restore)"
                )
            else:
                item = safety.backup(
                    self.target, self.backups, tools=self.tools
                )
                server = self.target.server or URL.create("sqlite")
                verified = safety.verify_backup(item, server, tools=self.tools)
                if not verified.ok:
                    raise DeployError(
                        "バックアップを試しに復元した結果が一致しません "
                        f"(backup not verified): {verified.differences}"
                    )
                step.detail = "新しいバックアップ、試しの復元で指紋が一致"
            self.report.backup = item
        return item

    def apply(self, plan: Plan, backup: Backup) -> Report:
        """Upgrade and verify the target; on failure say what is true.

        Refused (:class:`DeployError`) without a successful rehearsal of
        the same revisions on the same schema. A failure of the upgrade
        or of the verification is not undone by restoring a dump over
        the target: the report's :class:`Aftermath` says what is
        committed and what :meth:`restore` would discard.
        """
        record = self.records.successful(self._key(plan))
        if record is None:
            raise DeployError(
                f"{self.name} には適用しません: {plan.range} のリハーサルが"
                "成功していません (no successful rehearsal of these "
                "revisions on this data)。先に rehearse() を実行してください"
            )
        shape = schema.snapshot(self.target.engine, count_rows=False)
        try:
            with self.report.step("apply") as step:
                migrate.upgrade(self.target, self.to, **self.targets.options())
                self.report.revision_after = migrate.current(self.target)
                step.detail = (
                    f"revision {', '.join(self.report.revision_after)}"
                )
            with self.report.step("verify") as step:
                step.detail = self.verify(plan, record, shape)
        except DblabError as error:
            found = aftermath(
                self.targets, self.name, plan, backup, error, self.tools
            )
            self.report.error = found.error
            self.report.aftermath = found
            self.report.revision_after = found.now
        return self.report

    def verify(
        self,
        plan: Plan,
        record: Mapping[str, object],
        before: schema.Snapshot,
    ) -> str:
        """What the plan changes, against the rehearsal (see
        :func:`dblab.deploy.verification.verify`); raise if not so."""
        return verification.verify(
            self.target, plan, record, before, self.app, self._options()
        )

    def restore(self, backup: Backup | str) -> Report:
        """Restore ``backup`` over the target: only on explicit request.

        Every write since the backup is discarded; they are counted (per
        table, by primary key) into the report before the restore runs.
        Writers are cut off for the swap (see
        :func:`dblab.safety.restore_in_place`).
        """
        item = Backup.open(backup)
        with self.report.step("restore") as step:
            self.report.discarded = since_backup(
                item, self.target, tools=self.tools
            )
            safety.restore_in_place(item, self.target, tools=self.tools)
            self.report.restored = True
            self.report.revision_after = migrate.current(self.target)
            step.detail = (
                f"{item.path.name} から復元、失った書き込み "
                f"{self.report.discarded.rows} 行 ({self.report.discarded})"
            )
        return self.report

    def rollback(self, revision: str) -> Report:
        """Back up, then downgrade the target to ``revision``."""
        with self.report.step("backup") as step:
            self.report.backup = safety.backup(
                self.target, self.backups, tools=self.tools
            )
            step.detail = "ロールバック前のバックアップ"
        with self.report.step("rollback") as step:
            migrate.downgrade(self.target, revision, **self.targets.options())
            self.report.revision_after = migrate.current(self.target)
            now = ", ".join(self.report.revision_after) or "base"
            step.detail = f"downgrade → {now}"
            self.report.rolled_back = True
        return self.report

    def run(self) -> Report:
        """preflight → plan → rehearse → backup → apply → verify."""
        self.preflight()
        plan = self.plan()
        if not plan.revisions:
            for key in ("rehearse", "backup", "apply", "verify"):
                self.report.skip(key, "適用待ちなし (nothing pending)")
            return self.report
        rehearsal = self.rehearse(plan)
        if not rehearsal.ok:
            self.report.error = f"リハーサル失敗: {rehearsal.problems[0]}"
            for key in ("backup", "apply", "verify"):
                self.report.skip(key, f"{self.name} には触れない")
            return self.report
        if self.dry_run:
            for key in ("backup", "apply", "verify"):
                self.report.skip(key, "ドライラン (dry run)")
            return self.report
        return self.apply(plan, self.backup(rehearsal))


def deploy(
    target: str = "production",
    *,
    where: targets.Targets | None = None,
    dry_run: bool = False,
    rollback_to: str | None = None,
    restore: str | Path | None = None,
    **options: object,
) -> Report:
    """Run the runbook on ``target``; see :class:`Runbook` for options.

    ``restore``: a backup to restore over the target instead (the
    explicit request; the report says what it discarded).
    """
    book = Runbook(where, target, dry_run=dry_run, **options)
    try:
        if restore is not None:
            return book.restore(restore)
        if rollback_to is not None:
            book.preflight()
            return book.rollback(rollback_to)
        return book.run()
    finally:
        book.targets.close()
