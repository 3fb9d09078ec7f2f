"""Checker of notebook 10, the capstone: a zero-downtime schema change.

The learner writes revisions (expand, backfill, contract) into the
capstone sandbox and a rollout plan; :func:`check_capstone` replays the
plan on a fresh copy with the app's versions as live traffic
(:mod:`dblab.traffic`) and grades errors per live version, the data of
every row under the split rule (rows written during the migration
included), downgrades before the contract, the lint, and latency per
step against the same run's baseline. ``result.report.plot()`` draws
the timeline.

The package: :mod:`.trial` (the trial database, seed and downgrade
probe), :mod:`.replay` (the plan under traffic), :mod:`.figures`
(latency, data), :mod:`.verdict` (named mistakes), :mod:`.timeline`
(the plot).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import URL

from dblab import lint, migrate, revisions, sandbox, settings
from dblab.checks import Result, checker, failed, not_done
from dblab.checks import write_revision as write_revision  # notebook 10
from dblab.checks.zero_downtime import figures, verdict
from dblab.checks.zero_downtime.replay import (
    Pace,
    Replay,
    Step,
    StepRun,
    parse_plan,
)
from dblab.checks.zero_downtime.replay import replay as run_plan
from dblab.checks.zero_downtime.trial import (
    Probe,
    columns,
    learner_chain,
    learner_files,
    make_trial,
    probe_downgrades,
    seed_users,
)
from dblab.sandbox import Sandbox
from dblab.traffic import Request, split_name

__all__ = [
    "Pace",
    "check_capstone",
    "practice_report",
    "prepare_capstone",
    "seed_users",
    "split_name",
    "write_revision",
]

SECTION = verdict.TASK
ROWS = settings.scaled(1_000_000, 3_000)
"""Users in the trial database: a learner's run, and under tests."""
PROBE_ROWS = 200
"""Sample users for the downgrade probe."""
LATENCY_LIMIT = 0.2 if settings.scale() != "test" else None
"""Worst request (seconds) a step may cause on PostgreSQL and MariaDB.

Not graded at ``DBLAB_SCALE=test``: a few thousand rows block nothing
for long, and a busy test machine stalls requests on its own."""
SQLITE_NOTE = (
    "SQLite は書き手が 1 つだけなので、テーブルを作り直す手順 (batch mode) "
    "の間は書き込みが待たされます。SQLite の遅延は参考値で、採点はエラー"
    "とデータで行います (SQLite: one writer; latency is shown, not graded)"
)


@dataclass(frozen=True)
class Graded(Result):
    """A :class:`Result` that also carries the replay's figures."""

    report: Report | None = field(default=None, compare=False)


@dataclass
class Report:
    """The figures of one graded run (what the plot draws)."""

    run: Replay
    baseline: figures.Latency
    steps: list[figures.Latency]
    data: figures.DataCheck | None
    probe: Probe

    def plot(self, ax=None):
        """The timeline: latency over time, steps marked, errors red."""
        from dblab.checks.zero_downtime import timeline

        return timeline.plot(self, ax=ax)


def prepare_capstone(*, server: URL | None = None, rows: int = 20) -> Sandbox:
    """The learner's sandbox: the kit's chain at head, ``rows`` users."""
    box = sandbox.create("capstone", server=server, migrations=True)
    migrate.upgrade(box, to=revisions.HEAD)
    seed_users(box.engine, rows)
    return box


def practice_report(
    backend: str,
    requests: list[Request],
    baseline_end: float,
    steps: list[tuple[str, float, float]],
) -> Report:
    """The grader's figures and plot for a run the learner drove by hand.

    ``steps`` are ``(label, start, end)`` in the traffic's seconds; a
    request belongs to the step it started in. No plan, no data check:
    the lesson's practice change (notebook 10) uses it to read the
    baseline, each step's worst and p99, and the timeline.
    """
    run = Replay(
        backend=backend,
        baseline_end=baseline_end,
        steps=[StepRun(Step("apply", label), a, b) for label, a, b in steps],
        requests=list(requests),
        written={},
        stopped_because=None,
        rows=0,
    )
    base, per_step = figures.per_step(run)
    return Report(run, base, per_step, None, Probe())


def _plan_problems(steps, chain) -> list[tuple[str, str]]:
    applied = [s.target for s in steps if s.kind == "apply"]
    unknown = [r for r in applied if r not in chain]
    if unknown:
        return [
            (
                f"計画の revision {', '.join(unknown)} が versions/ に"
                "ありません (unknown revision; yours: "
                f"{', '.join(chain) or 'none'})",
                verdict.PLAN,
            )
        ]
    if applied != chain:
        return [
            (
                "計画はあなたの revision をすべて、古い順に 1 回ずつ "
                "apply してください (apply every revision once, in order: "
                f"{' → '.join(chain)})",
                verdict.PLAN,
            )
        ]
    return []


def _lint_problems(box: Sandbox) -> list[tuple[str, str]]:
    files = {p.name for p in learner_files(box)}
    try:
        found = lint.lint(box.migrations / "versions", since=revisions.HEAD)
    except lint.LintError as error:
        return [(f"revision を読めません (lint): {error}", verdict.PLAN)]
    codes = [
        (f.code, f"{f.path.name}:{f.line} {f.message}")
        for f in found
        if f.path.name in files
    ]
    return verdict.name_findings(codes)


@checker(SECTION)
def check_capstone(
    box: Sandbox,
    plan: list[str],
    *,
    rows: int | None = None,
    pace: Pace | None = None,
    latency_limit: float | None = LATENCY_LIMIT,
) -> Graded:
    """Replay ``plan`` on a copy of ``box``'s revisions under traffic."""
    if plan is ... or plan is None or not learner_files(box):
        return not_done(SECTION)
    try:
        steps = parse_plan(plan)
    except ValueError as error:
        return failed(str(error), verdict.PLAN)
    problems = _plan_problems(steps, learner_chain(box))
    problems = problems or _lint_problems(box)
    if problems:
        return _failed(problems, ["リンターか計画の段階で止めました"], None)
    report = _graded_run(box, steps, rows or ROWS, pace or Pace.for_scale())
    return _judge(report, latency_limit)


def _graded_run(box, steps, rows, pace) -> Report:
    trial = make_trial(box)
    try:
        probe = probe_downgrades(trial, learner_chain(box), PROBE_ROWS)
        if "reset" in probe.failures:
            trial.close()
            trial = make_trial(box)
        seed_users(trial.engine, rows)
        original = figures.original_names(trial.engine)
        run = run_plan(trial, steps, rows, pace)
        data = None
        if "family_name" in columns(trial.engine):
            data = figures.check_rows(trial.engine, original, run)
    finally:
        trial.close()
    base, per_step = figures.per_step(run)
    return Report(run, base, per_step, data, probe)


def _data_problems(report: Report) -> list[tuple[str, str]]:
    data = report.data
    if data is None:
        return [
            (
                "最後に family_name / given_name がありません "
                "(the new columns are missing at the end)",
                SECTION,
            )
        ]
    found = []
    if data.missing:
        found.append((f"{data.missing} 行が失われました (rows lost)", SECTION))
    if data.wrong:
        stale = _old_after_fill(report.run)
        why = (
            "old 版 (name だけを書く) が backfill の後も動いていて、その行の"
            "新しい列が古いままです。"
            if stale
            else ""
        )
        found.append(
            (
                f"{data.wrong} 行の family_name / given_name が分割規則と合い"
                f"ません (rows mis-split or stale)。{why}例: "
                + "; ".join(data.examples or []),
                SECTION,
            )
        )
    return found


def _old_after_fill(run: Replay) -> bool:
    started = [s.start for s in run.steps if s.fills and s.fills[-1][1]]
    return bool(started) and any(
        r.version == "old" and r.kind == "write" and r.at > started[0]
        for r in run.requests
    )


def _probe_problems(probe: Probe) -> list[tuple[str, str]]:
    found = [
        (
            f"{revision} を downgrade するとデータが失われます "
            f"(downgrade loses data: {what})",
            verdict.RENAME,
        )
        for revision, what in probe.lossy.items()
    ]
    found += [
        (
            f"{revision} の upgrade / downgrade が失敗しました "
            f"(failed on the sample): {error}",
            verdict.PLAN,
        )
        for revision, error in probe.failures.items()
        if revision != "reset"
    ]
    return found


def _step_problems(run: Replay) -> list[tuple[str, str]]:
    found = verdict.find_not_null_too_early(run)
    found += verdict.find_contract_too_early(run)
    found += verdict.find_one_transaction_backfill(run)
    found += verdict.classify_errors(run)
    found += [
        (f"手順「{s.step}」が失敗しました (step failed): {s.error}", SECTION)
        for s in run.steps
        if s.error
    ]
    found += verdict.find_errors(run)
    last = run.steps[-1].columns_after if run.steps else {}
    if "name" in last or not last:
        found.append(
            (
                "計画の最後に name が残っています: contract まで進めて"
                "ください (the plan does not reach the contract)",
                verdict.PLAN,
            )
        )
    if run.stopped_because not in (None, "stopped"):
        found.append(
            (
                f"トラフィックが途中で止まりました ({run.stopped_because})",
                SECTION,
            )
        )
    return found


def _latency_problems(report: Report, limit) -> list[tuple[str, str]]:
    if limit is None or report.run.backend == "sqlite":
        return []
    base = report.baseline.worst
    return [
        (
            f"手順「{step.label}」でリクエストが {step.worst * 1000:.0f} ms "
            f"待たされました (基準 {base * 1000:.0f} ms)。書き込みを止める"
            "形の DDL か、長いトランザクションです",
            verdict.LOCKS,
        )
        for step in report.steps
        if step.worst > limit and step.worst > 5 * base
    ]


def _details(report: Report) -> list[str]:
    run = report.run
    lines = [report.baseline.line()]
    lines += [step.line(report.baseline) for step in report.steps]
    if report.data is not None:
        lines.append(
            f"データ: {report.data.checked} 行を確認、不一致 "
            f"{report.data.wrong}、欠損 {report.data.missing}"
        )
    before = ", ".join(
        r for r in learner_chain_of(report) if r != report.probe.contract
    )
    lines.append(f"downgrade の確認 (contract の前): {before or 'なし'}")
    if run.backend == "sqlite":
        lines.append(SQLITE_NOTE)
    return lines


def learner_chain_of(report: Report) -> list[str]:
    """The applied revisions of the run, in plan order."""
    return [s.step.target for s in report.run.steps if s.step.kind == "apply"]


def _failed(problems, details, report) -> Graded:
    message, section = problems[0]
    rest = [m for m, _ in problems[1:]]
    return Graded(False, message, section, tuple(rest + details), report)


def _judge(report: Report, limit: float | None) -> Graded:
    problems = _step_problems(report.run)
    problems += _data_problems(report)
    problems += _probe_problems(report.probe)
    problems += _latency_problems(report, limit)
    details = _details(report)
    if problems:
        return _failed(problems, details, report)
    return Graded(
        True,
        "トラフィックを止めずに name を family_name / given_name に分け"
        "ました (zero errors, every row split, reversible before contract)",
        None,
        tuple(details),
        report,
    )
