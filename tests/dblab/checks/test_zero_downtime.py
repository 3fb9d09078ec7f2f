"""The capstone's grader: the solution passes on every database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from dblab import settings
from dblab.checks import zero_downtime
from dblab.sandbox import Sandbox
from dblab.traffic import VERSIONS, Request

ANSWER = Path(__file__).parent / "capstone_answer"
PLAN = [
    "apply c10e00000001",
    "deploy dual",
    "apply c10e00000002",
    "apply c10e00000003",
    "apply c10e00000004",
    "deploy new-read",
    "deploy new-only",
    "apply c10e00000005",
]


def copy_answer(box: Sandbox, replace: dict[str, dict[str, str]] = {}):  # noqa: B006
    """The solution's revisions into ``box``, with text replaced per file."""
    for path in sorted(ANSWER.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for old, new in replace.get(
            path.name.split("-")[1].split("_")[0], {}
        ).items():
            assert old in text, (path.name, old)
            text = text.replace(old, new)
        (box.migrations / "versions" / path.name).write_text(text, "utf-8")


PACE = zero_downtime.Pace(baseline=0.4, rollout=0.25, settle=0.05)
"""Shorter than the default test pace: the figures, not the timings."""
ON_EVERY_DATABASE = [
    "sqlite",
    # About 8 s each on the servers: run with -m stress (.ci/run).
    pytest.param("postgresql", marks=[pytest.mark.server, pytest.mark.stress]),
    pytest.param("mysql", marks=[pytest.mark.server, pytest.mark.stress]),
]


@pytest.fixture(scope="module")
def answered() -> Iterator[Sandbox]:
    box = zero_downtime.prepare_capstone()
    copy_answer(box)
    yield box
    box.close()


@pytest.mark.parametrize("backend", ON_EVERY_DATABASE)
def test_solution_passes_under_traffic(server) -> None:
    box = zero_downtime.prepare_capstone(server=server)
    try:
        copy_answer(box)
        result = zero_downtime.check_capstone(box, PLAN, pace=PACE)
    finally:
        box.close()
    assert result.ok, str(result)
    report = result.report
    run = report.run
    assert [str(s.step) for s in run.steps] == PLAN
    served = {r.version for r in run.requests}
    assert served == set(VERSIONS)
    assert not [r for r in run.requests if r.error]
    assert report.data.checked >= zero_downtime.ROWS
    assert report.data.wrong == 0 and report.data.missing == 0
    assert run.written, "the traffic wrote rows during the migration"
    assert report.probe.contract == "c10e00000005"
    assert run.stopped_because == "stopped"
    assert report.plot().axes  # the timeline draws


def test_stub_is_not_done(answered: Sandbox) -> None:
    assert (
        "まだ解答がありません"
        in zero_downtime.check_capstone(answered, ...).message
    )


def test_unknown_revision_in_plan_is_named(answered: Sandbox) -> None:
    result = zero_downtime.check_capstone(answered, ["apply 0bad"])
    assert not result.ok
    assert "0bad" in result.message


@pytest.mark.parametrize(
    ("plan", "named"),
    [
        ("apply c10e00000001", "リスト"),
        (["deploy v9"], "v9"),
        (["migrate c10e00000001"], "migrate c10e00000001"),
        (PLAN[1:], "apply every revision once, in order"),
    ],
)
def test_bad_plans_get_one_line(answered: Sandbox, plan, named) -> None:
    result = zero_downtime.check_capstone(answered, plan)
    assert not result.ok
    assert named in result.message
    assert "Traceback" not in str(result)


def test_practice_report_puts_each_request_in_the_step_it_started() -> None:
    """Notebook 10's practice change: baseline and steps from a record."""
    requests = [
        Request("old", "read", 0.1, 0.010),
        Request("old", "write", 0.5, 0.020),
        Request("old", "write", 1.2, 0.400),  # started in the naive step
        Request("old", "read", 1.3, 0.015, "boom"),
        Request("old", "write", 2.1, 0.030),
        Request("old", "read", 3.5, 0.010),  # after every step: not counted
    ]
    report = zero_downtime.practice_report(
        "postgresql",
        requests,
        1.0,
        [("naive", 1.0, 2.0), ("safe", 2.0, 3.0)],
    )
    assert (report.baseline.requests, report.baseline.worst) == (2, 0.020)
    naive, safe = report.steps
    assert naive.label == "apply naive" and naive.requests == 2
    assert (naive.worst, naive.errors) == (0.400, 1)
    assert (safe.requests, safe.worst, safe.errors) == (1, 0.030, 0)
    assert "基準の 20.0 倍" in naive.line(report.baseline)
    assert report.data is None
    figure = report.plot()
    assert len(figure.axes[0].collections) >= 2  # dots and error crosses
    figure.clear()


def test_the_solutions_notebook_writes_these_revisions() -> None:
    """The solutions notebook embeds the revisions graded here, verbatim."""
    path = (
        settings.NOTEBOOKS
        / "solutions"
        / "10_zero_downtime_capstone_solutions.ipynb"
    )
    cells = nbformat.read(path, as_version=4).cells
    embedded = [
        cell.source.split("r'''", 1)[1].split("'''", 1)[0].strip()
        for cell in cells
        if cell.cell_type == "code" and "r'''" in cell.source
    ]
    files = [
        p.read_text(encoding="utf-8").strip()
        for p in sorted(ANSWER.glob("*.py"))
    ]
    assert embedded == files
