"""The grader's figures: latency per step and the data check.

Latency is the wall time of each request as the app saw it; each step
is compared with the baseline (the ``old`` version alone, before the
first step) of the same run, never with a fixed number of milliseconds
taken on another machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from dblab.checks.zero_downtime.replay import Replay
from dblab.traffic import Request, split_name


@dataclass(frozen=True)
class Latency:
    """Worst and 99th percentile latency (seconds) of a set of requests."""

    label: str
    requests: int
    errors: int
    worst: float
    p99: float

    def line(self, baseline: Latency | None = None) -> str:
        text = (
            f"{self.label}: {self.requests} 件, エラー {self.errors}, "
            f"最大 {self.worst * 1000:.0f} ms, p99 {self.p99 * 1000:.0f} ms"
        )
        if baseline is not None and baseline.worst > 0:
            text += f" (基準の {self.worst / baseline.worst:.1f} 倍)"
        return text


def latency(label: str, requests: list[Request]) -> Latency:
    """Worst and p99 of ``requests`` (zeros for none)."""
    times = sorted(r.latency for r in requests)
    if not times:
        return Latency(label, 0, 0, 0.0, 0.0)
    rank = min(len(times) - 1, max(0, round(0.99 * len(times)) - 1))
    errors = sum(1 for r in requests if r.error)
    return Latency(label, len(times), errors, times[-1], times[rank])


def per_step(run: Replay) -> tuple[Latency, list[Latency]]:
    """The baseline's figures, then each step's."""
    base = latency(
        "基準 (baseline)",
        [r for r in run.requests if r.at < run.baseline_end],
    )
    steps = [
        latency(
            str(step.step),
            [r for r in run.requests if step.start <= r.at < step.end],
        )
        for step in run.steps
    ]
    return base, steps


_final = sa.table(
    "users",
    sa.column("id"),
    sa.column("family_name"),
    sa.column("given_name"),
)


@dataclass
class DataCheck:
    """Rows checked against the split rule, and what disagreed."""

    checked: int = 0
    missing: int = 0
    wrong: int = 0
    examples: list[str] | None = None

    @property
    def ok(self) -> bool:
        return not self.missing and not self.wrong


def check_rows(
    engine: Engine, original: dict[int, str], run: Replay
) -> DataCheck:
    """Every row's new columns against its name under the rule.

    The expected name of a row is what the traffic last wrote to it, or
    else the seeded one; inserted rows must all be there.
    """
    expected = {key: split_name(name) for key, name in original.items()}
    for key, written in run.written.items():
        expected[key] = (written.family, written.given)
    result = DataCheck(examples=[])
    seen = set()
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(_final.c.id, _final.c.family_name, _final.c.given_name)
        )
        for key, family, given in rows:
            seen.add(key)
            result.checked += 1
            want = expected.get(key)
            if want is not None and (family, given) != want:
                result.wrong += 1
                if len(result.examples) < 3:
                    result.examples.append(
                        f"id {key}: ({family!r}, {given!r}), 期待 {want!r}"
                    )
    result.missing = len(set(expected) - seen)
    return result


def original_names(engine: Engine) -> dict[int, str]:
    """``id → name`` of every seeded row, before the traffic starts."""
    users = sa.table("users", sa.column("id"), sa.column("name"))
    with engine.connect() as connection:
        rows = connection.execute(sa.select(users.c.id, users.c.name))
        return {key: name for key, name in rows}
