"""Replaying a rollout plan on the trial database with traffic running.

A plan is a list of steps, each ``"apply <revision>"`` or ``"deploy
<version>"``. The replay starts the ``old`` app version, measures a
baseline, then runs the steps in order: a deploy starts the new version
beside the live ones for ``pace.rollout`` seconds (old and new side by
side, as in a rolling deploy), then retires the others; an apply runs
``alembic upgrade`` to that revision while a monitor estimates the rows
whose ``family_name`` is filled (from a sample of keys), then lets the
traffic run for ``pace.settle`` seconds on the new schema. A step that
fails ends the replay (and the traffic).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import exc

from dblab import migrate, settings
from dblab.checks.zero_downtime.trial import columns
from dblab.errors import MigrationError
from dblab.sandbox import Sandbox
from dblab.traffic import OLD, VERSIONS, Request, Traffic
from dblab.traffic.versions import Written


@dataclass(frozen=True)
class Step:
    """``apply`` a revision or ``deploy`` an app version."""

    kind: str
    target: str

    def __str__(self) -> str:
        return f"{self.kind} {self.target}"


@dataclass(frozen=True)
class Pace:
    """How long the replay lets the traffic run, in seconds."""

    baseline: float = 0.6
    rollout: float = 0.4
    settle: float = 0.15
    rate: float = 40.0
    poll: float = 0.02

    @classmethod
    def for_scale(cls) -> Pace:
        """Short at ``DBLAB_SCALE=test``, longer for a learner's run."""
        if settings.scale() == "test":
            return cls()
        return cls(baseline=3.0, rollout=2.0, settle=1.0, poll=0.5)


def parse_plan(plan: object) -> list[Step]:
    """Steps from ``["apply <rev>", "deploy <version>", ...]``."""
    if isinstance(plan, str) or not hasattr(plan, "__iter__"):
        raise ValueError(
            "計画は手順のリストにしてください "
            '(a list such as ["apply <revision>", "deploy dual"])'
        )
    steps = []
    for item in plan:
        parts = item.split() if isinstance(item, str) else list(item)
        if len(parts) != 2 or parts[0] not in ("apply", "deploy"):
            raise ValueError(
                f"手順 {item!r} が読めません (expected 'apply <revision>' "
                "or 'deploy <version>')"
            )
        kind, target = str(parts[0]), str(parts[1])
        if kind == "deploy" and target not in VERSIONS:
            raise ValueError(
                f"アプリの版 {target!r} はありません "
                f"(versions: {', '.join(VERSIONS)})"
            )
        steps.append(Step(kind, target))
    return steps


@dataclass
class StepRun:
    """What happened during one step."""

    step: Step
    start: float
    end: float = 0.0
    live_during: tuple[str, ...] = ()
    live_after: tuple[str, ...] = ()
    error: str | None = None
    unfilled_before: int | None = None
    columns_after: dict[str, bool] = field(default_factory=dict)
    fills: list[tuple[float, int]] = field(default_factory=list)


@dataclass
class Replay:
    """The whole run: baseline, steps, requests and the ledger."""

    backend: str
    baseline_end: float
    steps: list[StepRun]
    requests: list[Request]
    written: dict[int, Written]
    stopped_because: str | None
    rows: int


UNFILLED = sa.text("SELECT count(*) FROM users WHERE family_name IS NULL")
_users = sa.table("users", sa.column("id"), sa.column("family_name"))
SAMPLE = 1_000
"""Keys the fill monitor looks at, spread evenly over ``users``' ids."""


def _count(engine, query) -> int | None:
    try:
        with engine.connect() as connection:
            return int(connection.execute(query).scalar_one())
    except exc.SQLAlchemyError:
        return None  # the column does not exist (yet, or any more)


def sample_keys(engine) -> tuple[list[int], int]:
    """About :data:`SAMPLE` ids from ``users``' first to its last, and
    the stride between them (the ids each sampled key stands for)."""
    with engine.connect() as connection:
        low, high = connection.execute(
            sa.select(sa.func.min(_users.c.id), sa.func.max(_users.c.id))
        ).one()
    if low is None:
        return [], 1
    stride = max(1, (high - low + 1) // SAMPLE)
    return list(range(low, high + 1, stride)), stride


class FillMonitor:
    """Estimates the filled ``family_name`` values every ``poll`` seconds.

    It counts the filled rows among a fixed sample of keys (primary-key
    lookups, a few milliseconds) and scales the count to the table. A
    ``count(*)`` of the whole table would be exact but take a second at
    1,000,000 rows, and a DDL step waiting for that read to finish would
    queue the app's requests behind it: the grader's own stall.
    """

    def __init__(self, trial: Sandbox, traffic: Traffic, poll: float):
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._keys, self._scale = sample_keys(trial.engine)
        self._query = (
            sa.select(sa.func.count())
            .select_from(_users)
            .where(
                _users.c.id.in_(self._keys),
                _users.c.family_name.is_not(None),
            )
        )
        self._thread = threading.Thread(
            target=self._run,
            args=(trial, traffic, poll),
            name="dblab-capstone-monitor",
            daemon=True,
        )

        self._sample = lambda: self._take(trial, traffic)

    def _take(self, trial: Sandbox, traffic: Traffic) -> None:
        count = _count(trial.engine, self._query)
        if count is not None:
            self.samples.append((traffic.clock(), count * self._scale))

    def _run(self, trial, traffic, poll) -> None:
        while not self._stop.wait(poll):
            self._take(trial, traffic)

    def __enter__(self) -> FillMonitor:
        self._sample()  # before the step, and once more after it
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def _apply(trial, traffic, step, pace, run: StepRun) -> None:
    run.unfilled_before = _count(trial.engine, UNFILLED)
    with FillMonitor(trial, traffic, pace.poll) as monitor:
        try:
            migrate.upgrade(trial, to=step.target)
        except MigrationError as error:
            run.error = str(error)
    run.fills = monitor.samples
    run.columns_after = columns(trial.engine)
    if run.error is None:
        traffic.wait(pace.settle)


def _deploy(traffic: Traffic, step: Step, pace: Pace) -> None:
    previous = [v for v in traffic.live if v != step.target]
    traffic.deploy(step.target)
    traffic.wait(pace.rollout)
    for version in previous:
        traffic.retire(version)


def replay(trial: Sandbox, steps: list[Step], rows: int, pace: Pace):
    """Run ``steps`` on ``trial`` under traffic; return a :class:`Replay`."""
    runs: list[StepRun] = []
    limit = pace.baseline + len(steps) * (pace.rollout + 120) + 60
    traffic = Traffic(trial.url, keys=rows, rate=pace.rate, deadline=limit)
    with traffic:
        traffic.deploy(OLD)
        traffic.wait(pace.baseline)
        baseline_end = traffic.clock()
        for step in steps:
            if not traffic.running:
                break
            run = StepRun(step, traffic.clock())
            runs.append(run)
            run.live_during = traffic.live
            if step.kind == "deploy":
                _deploy(traffic, step, pace)
                run.live_during = tuple(
                    v
                    for v in VERSIONS
                    if v in run.live_during or v == step.target
                )
            else:
                _apply(trial, traffic, step, pace, run)
            run.end = traffic.clock()
            run.live_after = traffic.live
            if run.error is not None:
                break
    return Replay(
        backend=trial.backend,
        baseline_end=baseline_end,
        steps=runs,
        requests=list(traffic.requests),
        written=dict(traffic.written),
        stopped_because=traffic.stopped_because,
        rows=rows,
    )
