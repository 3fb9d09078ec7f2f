"""``dblab deploy``: the production runbook for Alembic, step by step.

The chapter on moving a change to production, for a migration:

1. **preflight** -- the target exists, is not the staging database, is
   stamped at a revision the code knows and has not drifted from it;
2. **plan** -- only the pending revisions (``<current>:heads``, dbt's
   ``state:modified+``), their offline SQL, ``dblab lint`` on them;
3. **rehearse** -- production is backed up and restored into staging
   (for another target or a dry run: into a throw-away sandbox); staging
   is upgraded, checked (revision, ``alembic check``, the app's models
   and queries, extra checks) and the EXPLAIN plans of named queries are
   compared before and after. The result is recorded in
   ``<work>/targets/<prefix>/rehearsals.json``, keyed by the target's
   fingerprint, the revision range and the revision files' hash;
4. **backup** -- the rehearsal's dump when the data has not changed since
   (restoring it into staging proved it), else a new, verified backup;
5. **apply** -- refused without a successful rehearsal of the same
   revisions on the same data; a failure restores the backup;
6. **verify** -- tables the rehearsal did not change have the same
   fingerprint, changed ones match the rehearsal, the schema changes are
   the rehearsed ones, current == heads, ``alembic check`` is clean; a
   failure restores the backup;
7. **rollback** -- on request, to a named revision (after a backup).

``deploy(...)`` runs it all and returns a :class:`Report`; ``Runbook``
offers the steps one by one. Bad input raises :class:`DeployError`
(one Japanese line) before anything is changed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine, MetaData
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from dblab import lint, migrate, safety, schema, settings, targets
from dblab import sandbox as sandboxes
from dblab.errors import DblabError
from dblab.safety import Backup, Fingerprint
from dblab.steps import Step, StepLog, one_line

STEPS = {
    "preflight": "事前確認 (preflight)",
    "plan": "計画 (plan)",
    "rehearse": "リハーサル (rehearse)",
    "backup": "バックアップ (backup)",
    "apply": "適用 (apply)",
    "verify": "検証 (verify)",
    "rollback": "ロールバック (rollback)",
}
Query = str | sa.Executable
Check = Callable[[Engine], object]


def default_queries() -> dict[str, sa.Select]:
    """The app's queries whose plans a rehearsal compares."""
    from app.models import Address, User

    return {
        "user_by_email": sa.select(User.id, User.name).where(
            User.email == "sato.ren.1@example.com"
        ),
        "users_by_name": sa.select(User.id, User.email).where(
            User.name == "佐藤 蓮"
        ),
        "addresses_of_user": sa.select(
            Address.id, Address.email_address
        ).where(Address.user_id == 42),
    }


_REFERENCES: dict[tuple, schema.Snapshot] = {}
"""Expected schemas by (server, revision, versions hash): see drift()."""


def _folder_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes().replace(b"\r\n", b"\n"))
    return digest.hexdigest()


class DeployError(DblabError):
    """The runbook stopped before changing the target."""


# -- results -------------------------------------------------------------


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
    restored: bool = False
    rolled_back: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def outcome(self) -> str:
        now = ", ".join(self.revision_after) or "base"
        if self.ok:
            if self.rolled_back:
                return f"ロールバック完了 (rolled back to {now})"
            if self.dry_run:
                return "ドライラン完了、何も変更していません (dry run)"
            return f"成功 (deployed; now at {now})"
        if self.restored:
            return (
                f"失敗、バックアップから復元済み (failed; restored to {now})"
                f": {self.error}"
            )
        return (
            f"中止、{self.target} は変更していません (stopped): {self.error}"
        )

    def status(self, key: str) -> str | None:
        """The status of the last step ``key`` (None if not reached)."""
        found = [s.status for s in self.steps if s.key == key]
        return found[-1] if found else None

    def frame(self):
        import pandas as pd

        return pd.DataFrame(
            [
                (s.name, s.mark, round(s.seconds, 3), s.detail)
                for s in self.steps
            ],
            columns=["step", "status", "seconds", "detail"],
        )

    def __repr__(self) -> str:
        return f"Report({self.target!r}, ok={self.ok})"

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # IPython
        printer.text(repr(self) if cycle else str(self))

    def __str__(self) -> str:
        label = settings.BACKENDS.get(self.backend, self.backend)
        mode = " --dry-run" if self.dry_run else ""
        lines = [f"dblab deploy --target {self.target}{mode} ({label})"]
        lines += self.step_lines()
        if self.plan is not None and self.plan.revisions:
            lines.append(str(self.plan))
        if self.rehearsal is not None:
            lines.append(str(self.rehearsal))
        lines.append(f"結果: {self.outcome}")
        return "\n".join(lines)


# -- the runbook ---------------------------------------------------------


class Runbook:
    """The deployment steps for one target, callable one by one."""

    def __init__(
        self,
        where: targets.Targets | None = None,
        target: str = "production",
        *,
        to: str = "heads",
        metadata: MetaData | None = None,
        queries: Mapping[str, Query] | None = None,
        checks: Mapping[str, Check] | None = None,
        dry_run: bool = False,
        tools: safety.Tools = None,
    ) -> None:
        self.targets = where or targets.Targets()
        self.name = targets.check_name(target)
        self.to = to
        self.metadata = metadata
        self.queries = dict(default_queries() if queries is None else queries)
        self.checks = dict(checks or {})
        self.dry_run = dry_run
        self.tools = tools
        self.target = self.targets[target]
        self.report = Report(target, self.target.backend, dry_run)
        self._plan: Plan | None = None
        self._backup: Backup | None = None

    # - helpers -

    def options(self, **extra: object) -> dict[str, object]:
        if self.metadata is not None:
            extra.setdefault("metadata", self.metadata)
        return self.targets.options(**extra)

    def _scripts(self):
        return migrate.script(migrate.config(**self.targets.options()))

    @property
    def backups(self) -> Path:
        return self.targets.folder / "backups"

    # - 1 preflight -

    def preflight(self) -> None:
        """Stop with one line if the target cannot be deployed to."""
        with self.report.step("preflight") as step:
            production = self.targets.url("production")
            staging = self.targets.url("staging")
            if _same(production, staging):
                raise DeployError(
                    "本番 (production) と staging が同じデータベースを指して"
                    f"います ({_shown(production)})。リハーサルが本番を上書き"
                    "してしまうので中止します (production URL equals "
                    "staging's)"
                )
            if not self.targets.exists(self.name):
                raise DeployError(
                    f"ターゲット {self.name} のデータベースがありません "
                    f"({_shown(self.target.url)})。先に `dblab deploy "
                    "--prepare` で作ってください (target database missing)"
                )
            current = migrate.current(self.target)
            known = {s.revision for s in self._scripts().walk_revisions()}
            unknown = [rev for rev in current if rev not in known]
            if unknown:
                raise DeployError(
                    f"{self.name} は revision {', '.join(unknown)} を記録して"
                    "いますが、versions/ にありません。誰かが別のコードで"
                    "適用したか記録を書き換えています (unknown revision "
                    "stamped)。中止しました"
                )
            drift = self.drift(current)
            if drift:
                raise DeployError(
                    f"{self.name} のスキーマが revision "
                    f"{', '.join(current) or 'base'} の定義と違います "
                    f"(drifted): {'; '.join(drift)}。手作業の変更を調べて"
                    "から流してください"
                )
            self.report.revision_before = current
            self.report.revision_after = current
            step.detail = (
                f"{_shown(self.target.url)} at "
                f"{', '.join(current) or 'base'}; 未知の revision なし、"
                "ドリフトなし (no drift)"
            )

    def drift(self, current: tuple[str, ...]) -> list[str]:
        """Schema differences between the target and its revision.

        The expected schema comes from a scratch database upgraded to the
        same revision on the same server; it is remembered per server,
        revision and versions folder content, for the next preflight.
        """
        server = self.target.server or URL.create("sqlite")
        key = (
            server.render_as_string(hide_password=False),
            current,
            _folder_hash(self.targets.migrations / "versions"),
        )
        expected = _REFERENCES.get(key)
        if expected is None:
            reference = sandboxes.create("drift_reference", server=server)
            try:
                for revision in current:
                    migrate.upgrade(
                        reference, revision, **self.targets.options()
                    )
                expected = schema.snapshot(reference.engine, count_rows=False)
            finally:
                reference.close()
            _REFERENCES[key] = expected
        actual = schema.snapshot(self.target.engine, count_rows=False)
        return schema.diff(expected, actual).changes

    # - 2 plan -

    def plan(self) -> Plan:
        """The pending revisions, their offline SQL and lint findings."""
        with self.report.step("plan") as step:
            scripts = self._scripts()
            current = migrate.current(self.target)
            heads = tuple(
                sorted(s.revision for s in scripts.get_revisions(self.to))
            )
            lower = current[0] if len(current) == 1 else "base"
            pending = [
                s
                for s in reversed(
                    list(scripts.iterate_revisions(self.to, lower))
                )
            ]
            sql = self._offline_sql(f"{lower}:{self.to}") if pending else ""
            findings = [
                finding for s in pending for finding in lint.lint(Path(s.path))
            ]
            digest = hashlib.sha256()
            for s in pending:
                digest.update(
                    Path(s.path).read_bytes().replace(b"\r\n", b"\n")
                )
            self._plan = self.report.plan = Plan(
                self.name,
                current,
                heads,
                [(s.revision, (s.doc or "").splitlines()[0]) for s in pending],
                sql,
                findings,
                digest.hexdigest()[:16],
            )
            step.detail = (
                f"{self._plan.range}: {len(pending)} revision, "
                f"lint {len(findings)} 件"
            )
            if findings:
                step.status = "warning"
        return self._plan

    def _offline_sql(self, revision_range: str) -> str:
        """The SQL for review; SQLite's batch mode needs a live database,
        so there the SQL is shown as PostgreSQL would run it."""
        options = self.targets.options()
        try:
            return migrate.offline_sql(
                None, revision_range, url=self.target.url, **options
            )
        except DblabError:
            if self.target.backend != "sqlite":
                raise
        shown = migrate.offline_sql(
            None, revision_range, url=URL.create("postgresql"), **options
        )
        return (
            "-- SQLite のバッチモードはオフラインで SQL を出せないため、"
            "PostgreSQL の方言で表示します\n" + shown
        )

    # - 3 rehearse -

    def rehearse(self) -> Rehearsal:
        """Copy the target, upgrade the copy, check it, record the result."""
        plan = self._plan or self.plan()
        with self.report.step("rehearse") as step:
            before = safety.fingerprint(self.target)
            self._backup = safety.backup(
                self.target, self.backups, tools=self.tools
            )
            copy, scratch = self._copy(self._backup)
            try:
                result = self._rehearse_on(copy, plan)
            finally:
                if scratch:
                    copy.close()
                else:
                    copy.engine.dispose()
            result.before = before
            self.report.rehearsal = result
            if not self.dry_run:
                self._record(before, plan, result)
            where = "捨てるコピー" if scratch else "staging"
            step.detail = (
                f"{where} で {'成功' if result.ok else '失敗'}"
                f" ({len(result.plans)} 本の EXPLAIN を比較)"
            )
            if not result.ok:
                step.status = "failed"
        return result

    def _copy(self, item: Backup) -> tuple[sandboxes.Sandbox, bool]:
        """Staging as a copy of production, or a scratch copy."""
        if self.name == "production" and not self.dry_run:
            staging = self.targets["staging"]
            copy_into(item, staging, tools=self.tools)
            return staging, False
        server = self.target.server or URL.create("sqlite")
        return safety.restore(item, server, tools=self.tools), True

    def _rehearse_on(self, copy: sandboxes.Sandbox, plan: Plan) -> Rehearsal:
        result = Rehearsal(True, copy.url.database or "")
        if copy.backend != "sqlite":
            result.database = copy.url.database or ""
        else:
            result.database = Path(copy.url.database or "").name
        before = safety.fingerprint(copy)
        shape = schema.snapshot(copy.engine, count_rows=False)
        explained = {
            n: explain(copy.engine, q) for n, q in self.queries.items()
        }
        try:
            migrate.upgrade(copy, self.to, **self.targets.options())
        except DblabError as error:
            result.ok = False
            result.problems.append(one_line(error))
            return result
        now = tuple(sorted(migrate.current(copy)))
        if now != plan.heads:
            result.problems.append(
                f"revision が {now} で、{plan.heads} ではありません"
            )
        else:
            result.checks.append(f"current == heads ({', '.join(now)})")
        drift = migrate.check(copy, **self.options())
        if drift:
            result.problems.append(
                f"alembic check: モデルと違います (drift): {_first(drift)}"
            )
        else:
            result.checks.append("alembic check: モデルと一致")
        result.problems += _integrity(copy.engine)
        problem = app_queries(copy.engine, self.queries)
        if problem:
            result.problems.append(problem)
        else:
            result.checks.append(
                f"アプリのクエリ {len(self.queries)} 本とモデルの読み込み OK"
            )
        for name, check in self.checks.items():
            verdict = _run_check(check, copy.engine)
            if verdict:
                result.problems.append(f"{name}: {verdict}")
            else:
                result.checks.append(f"{name} OK")
        for name, query in self.queries.items():
            (old, old_scan), (new, new_scan) = (
                explained[name],
                explain(copy.engine, query),
            )
            change = PlanChange(name, old, new, old_scan, new_scan)
            result.plans.append(change)
            if change.regressed:
                result.problems.append(
                    f"クエリ {name} が全件走査になりました (slow query: "
                    f"{change.before} → {change.after})"
                )
        after_fp = safety.fingerprint(copy)
        result.after = after_fp
        result.changed_tables = sorted(
            name
            for name in set(before) | set(after_fp)
            if before.get(name) != after_fp.get(name)
        )
        result.schema_changes = schema.diff(
            shape, schema.snapshot(copy.engine, count_rows=False)
        ).changes
        result.ok = not result.problems
        return result

    # records of rehearsals

    @property
    def records(self) -> Path:
        return self.targets.folder / "rehearsals.json"

    def _key(self, before: Fingerprint, plan: Plan) -> str:
        data = json.dumps(before.to_json(), sort_keys=True).encode()
        digest = hashlib.sha256(data).hexdigest()[:16]
        return f"{self.name}|{digest}|{plan.range}|{plan.files_hash}"

    def _record(self, before: Fingerprint, plan: Plan, rehearsal: Rehearsal):
        records = self._records()
        records[self._key(before, plan)] = {
            "ok": rehearsal.ok,
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "backup": str(self._backup.path) if self._backup else None,
            "changed_tables": rehearsal.changed_tables,
            "schema_changes": rehearsal.schema_changes,
            "after": rehearsal.after.to_json() if rehearsal.after else None,
            "problems": rehearsal.problems,
        }
        self.records.write_text(
            json.dumps(records, ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8",
        )

    def _records(self) -> dict[str, dict]:
        try:
            return json.loads(self.records.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def rehearsed(self) -> dict | None:
        """The successful rehearsal of this plan on today's data, if any."""
        plan = self._plan or self.plan()
        key = self._key(safety.fingerprint(self.target), plan)
        found = self._records().get(key)
        return found if found and found.get("ok") else None

    # - 4 backup -

    def backup(self) -> Backup:
        """A proven backup of the target: the rehearsal's, or a new one."""
        with self.report.step("backup") as step:
            now = safety.fingerprint(self.target)
            self.report.before = now
            item = self._backup
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
            self._backup = self.report.backup = item
        return item

    # - 5 apply, 6 verify -

    def apply(self) -> Report:
        """Upgrade the target; restore the backup if anything fails."""
        plan = self._plan or self.plan()
        record = self.rehearsed()
        if record is None:
            self.report.error = (
                f"{plan.range} のリハーサルが成功していません (no "
                "successful rehearsal of these revisions on this data)"
            )
            raise DeployError(
                f"{self.name} には適用しません: {self.report.error}。"
                "先に rehearse() を実行してください"
            )
        item = self._backup if self._backup is not None else self.backup()
        if self.report.before is None:
            self.report.before = safety.fingerprint(self.target)
        try:
            with self.report.step("apply") as step:
                migrate.upgrade(self.target, self.to, **self.targets.options())
                self.report.revision_after = migrate.current(self.target)
                step.detail = (
                    f"revision {', '.join(self.report.revision_after)}"
                )
            with self.report.step("verify") as step:
                step.detail = self.verify(record)
        except DblabError as error:
            self.report.error = one_line(error)
            self._restore(item)
        return self.report

    def verify(self, record: Mapping[str, object]) -> str:
        """Compare the target with the rehearsal; raise on a difference."""
        plan = self._plan or self.plan()
        before = self.report.before or Fingerprint()
        after = safety.fingerprint(self.target)
        self.report.after = after
        changed = set(record.get("changed_tables") or ())
        rehearsed = Fingerprint.from_json(record.get("after") or {})
        problems = []
        for name in sorted(set(before) | set(after)):
            if name in changed:
                mine, theirs = after.get(name), rehearsed.get(name)
                if mine is None or theirs is None or mine.rows != theirs.rows:
                    problems.append(f"{name}: 行数がリハーサルと違う")
            elif before.get(name) != after.get(name):
                problems.append(f"{name}: 変えないはずの表が変わった")
        now = tuple(sorted(migrate.current(self.target)))
        if now != plan.heads:
            problems.append(f"current {now} != heads {plan.heads}")
        drift = migrate.check(self.target, **self.options())
        if drift:
            problems.append(f"alembic check: {_first(drift)}")
        if problems:
            raise DeployError(
                "検証で違いが見つかりました (verification failed): "
                + "; ".join(problems)
            )
        untouched = len(set(after) - changed)
        return (
            f"変更なしの表 {untouched} 個の指紋が一致、変更 "
            f"{', '.join(sorted(changed)) or 'なし'} はリハーサルどおり、"
            "current == heads、alembic check OK"
        )

    def _restore(self, item: Backup) -> None:
        with self.report.step("rollback") as step:
            after = safety.restore_in_place(
                item, self.target, tools=self.tools
            )
            differences = (self.report.before or Fingerprint()).differences(
                after
            )
            if differences:
                raise DeployError(
                    "復元後の指紋が適用前と一致しません: "
                    + "; ".join(differences)
                )
            self.report.restored = True
            self.report.revision_after = migrate.current(self.target)
            step.detail = "バックアップから復元、適用前と同じ指紋"

    # - 7 rollback on request -

    def rollback(self, revision: str) -> Report:
        """Back up, then downgrade the target to ``revision``."""
        with self.report.step("backup") as step:
            self._backup = safety.backup(
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

    # - everything -

    def run(self) -> Report:
        """preflight → plan → rehearse → backup → apply → verify."""
        self.preflight()
        plan = self.plan()
        if not plan.revisions:
            for key in ("rehearse", "backup", "apply", "verify"):
                self.report.skip(key, "適用待ちなし (nothing pending)")
            return self.report
        rehearsal = self.rehearse()
        if not rehearsal.ok:
            self.report.error = f"リハーサル失敗: {rehearsal.problems[0]}"
            for key in ("backup", "apply", "verify"):
                self.report.skip(key, f"{self.name} には触れない")
            return self.report
        if self.dry_run:
            for key in ("backup", "apply", "verify"):
                self.report.skip(key, "ドライラン (dry run)")
            return self.report
        self.backup()
        return self.apply()


def deploy(
    target: str = "production",
    *,
    where: targets.Targets | None = None,
    dry_run: bool = False,
    rollback_to: str | None = None,
    **options: object,
) -> Report:
    """Run the runbook on ``target``; see :class:`Runbook` for options."""
    book = Runbook(where, target, dry_run=dry_run, **options)
    try:
        if rollback_to is not None:
            book.preflight()
            return book.rollback(rollback_to)
        return book.run()
    finally:
        book.targets.close()


# -- the pieces --------------------------------------------------------------


def copy_into(
    item: Backup, target: sandboxes.Sandbox, *, tools: safety.Tools = None
) -> Fingerprint:
    """Replace ``target``'s data with the backup of ANOTHER database."""
    if target.backend == "sqlite":
        return safety.restore_in_place(item, target, tools=tools)
    name = str(target.url.database)
    targets.drop_tables(target.engine)
    target.engine.dispose()
    args, env = safety.client_options(target.url)
    if target.backend == "postgresql":
        program = safety.find_tool("pg_restore", tools)
        options = ["--no-owner", "--no-privileges", "--exit-on-error"]
        options += ["--single-transaction", "-d", name, str(item.path)]
        safety.run_tool([program, *args, *options], env)
    else:
        program = safety.find_tool("mariadb", tools)
        with item.path.open("rb") as dump:
            safety.run_tool([program, *args, "--batch", name], env, stdin=dump)
    target.engine.dispose()
    after = safety.fingerprint(target)
    differences = item.fingerprint.differences(after)
    if differences:
        raise DeployError(
            "staging へのコピーが本番と一致しません (copy mismatch): "
            + "; ".join(differences)
        )
    return after


def _compiled(engine: Engine, query: Query) -> str:
    if isinstance(query, str):
        return query
    return str(
        query.compile(
            dialect=engine.dialect, compile_kwargs={"literal_binds": True}
        )
    )


def explain(engine: Engine, query: Query) -> tuple[str, bool]:
    """The plan of ``query`` in one line, and whether it scans a table."""
    sql = _compiled(engine, query)
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


def app_queries(engine: Engine, queries: Mapping[str, Query]) -> str | None:
    """Run the named queries and load the app's models; None when fine."""
    from app.models import Address, Employee, User

    try:
        with engine.connect() as connection:
            for query in queries.values():
                statement = sa.text(query) if isinstance(query, str) else query
                connection.execute(statement).fetchmany(5)
        with Session(engine) as session:
            for model in (User, Address, Employee):
                session.scalars(sa.select(model).limit(5)).all()
    except sa.exc.SQLAlchemyError as error:
        return (
            "アプリのクエリが失敗しました (app query failed): "
            f"{one_line(error)}"
        )
    return None


def _integrity(engine: Engine) -> list[str]:
    if engine.dialect.name != "sqlite":
        return []
    with engine.connect() as connection:
        verdict = connection.exec_driver_sql("PRAGMA integrity_check").scalar()
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if verdict != "ok" or broken:
        return [f"SQLite integrity: {verdict}, FK violations {len(broken)}"]
    return []


def _run_check(check: Check, engine: Engine) -> str | None:
    try:
        verdict = check(engine)
    except Exception as error:
        return one_line(error)
    if verdict is False:
        return "False"
    if isinstance(verdict, str) and verdict:
        return verdict
    return None


def _same(a: URL, b: URL) -> bool:
    if a.get_backend_name() == "sqlite" and b.get_backend_name() == "sqlite":
        return (
            Path(a.database or "").resolve()
            == Path(b.database or "").resolve()
        )
    keys = ("host", "port", "database")
    return a.get_backend_name() == b.get_backend_name() and all(
        getattr(a, k) == getattr(b, k) for k in keys
    )


def _shown(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return Path(url.database or "").name
    return f"{url.database} @ {settings.describe(url)}"


def _first(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:3])[:200]


# -- the console command -----------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        default=os.environ.get("DBLAB_TARGET") or "production",
        help="dev / staging / production (既定: DBLAB_TARGET か production)",
    )
    parser.add_argument("--to", default="heads", help="目標 (既定: heads)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="何も変更せず、計画とリハーサル (捨てるコピー上) を表示する",
    )
    parser.add_argument(
        "--rollback-to", metavar="REVISION", help="この revision に戻す"
    )
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="3 つのターゲットを head で作り直し、本番にデータを入れる",
    )
    parser.add_argument(
        "--migrations",
        type=Path,
        default=settings.MIGRATIONS,
        help="migrations/ フォルダ (既定: 本キットのもの)",
    )
    parser.add_argument(
        "--sql", action="store_true", help="計画のオフライン SQL も表示する"
    )


def run(args: argparse.Namespace) -> int:
    where = targets.Targets(migrations=args.migrations)
    targets.check_name(args.target)
    if args.prepare:
        made = targets.prepare(where)
        where.close()
        print(f"ターゲットを作りました (prepared): production に {made}")
        return 0
    report = deploy(
        args.target,
        where=where,
        dry_run=args.dry_run,
        rollback_to=args.rollback_to,
        to=args.to,
    )
    print(report)
    if (args.sql or args.dry_run) and report.plan and report.plan.sql:
        print("\n-- オフライン SQL (review this) --")
        print(report.plan.sql)
    return 0 if report.ok else 1
