"""Fixtures of the slide tests: the deck built and exported once a run.

The build and the PDF export are slow (~20-60 s each), so they start in
the background as soon as collection has finished (when any deck test is
selected; under xdist the first worker to collect starts them for all)
and the tests wait only where they need the result. Without Node, or
without ``slides/node_modules``, the deck tests skip (one summary line)
-- except in CI (``CI`` set), where a missing tool fails them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import slidedeck
from slidedeck import in_ci, missing_tools, require

_JOBS: slidedeck.DeckJobs | None = None


def require_node_modules() -> None:
    """Skip (fail in CI) when ``npm ci`` has not been run in slides/."""
    if _installed():
        return
    message = (
        "slides/node_modules がないのでスライドのテストを省略します "
        "(skipped) → 含めるには: cd slides && npm ci"
    )
    if in_ci():
        pytest.fail(f"CI: {message}", pytrace=False)
    pytest.skip(message)


def _jobs() -> slidedeck.DeckJobs:
    global _JOBS
    if _JOBS is None:
        _JOBS = slidedeck.DeckJobs(os.environ.get("PYTEST_XDIST_TESTRUNUID"))
    return _JOBS


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start build and export early, while other tests run."""
    if session.config.option.collectonly:
        return
    wanted = {
        job
        for item in session.items
        for marker in item.iter_markers("deck_job")
        for job in marker.args
    }
    if not wanted or missing_tools("node", "npm"):
        return
    if not _installed():
        return
    if "export" in wanted and missing_tools("chromium"):
        wanted.discard("export")
    _jobs().start(*wanted)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "deck_job(*names): needs `npm run build` / `npm run export`"
    )


def pytest_terminal_summary(terminalreporter) -> None:
    """Build and export time, deck and PDF size: figures for the log."""
    if _JOBS is None or not _JOBS.seconds():
        return
    parts = [f"{name} {s:.1f} s" for name, s in _JOBS.seconds().items()]
    if _JOBS.dist.exists():
        parts.append(f"dist {slidedeck.size(_JOBS.dist) / 1e6:.1f} MB")
    if _JOBS.pdf.exists():
        parts.append(f"PDF {slidedeck.size(_JOBS.pdf) / 1e6:.1f} MB")
    terminalreporter.write_line("slides: " + ", ".join(parts))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _JOBS is not None:
        _JOBS.close(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)


@pytest.fixture(scope="session")
def deck_jobs() -> Iterator[slidedeck.DeckJobs]:
    """Both jobs, started (if nobody has) the first time a test needs one."""
    jobs = _jobs()
    if not missing_tools("node", "npm") and _installed():
        with_export = not missing_tools("chromium")
        jobs.start("build", *(["export"] if with_export else []))
    yield jobs


def _installed() -> bool:
    return (slidedeck.SLIDES / "node_modules" / ".bin" / "slidev").exists()


@pytest.fixture(scope="session")
def built_deck(deck_jobs: slidedeck.DeckJobs):
    """The folder of the built deck (``npm run build``)."""
    require("node", "npm")
    require_node_modules()
    deck_jobs.wait("build")
    return deck_jobs.dist


@pytest.fixture(scope="session")
def exported_pdf(deck_jobs: slidedeck.DeckJobs):
    """The PDF of the deck (``npm run export``)."""
    require("node", "npm", "chromium")
    require_node_modules()
    deck_jobs.wait("export")
    return deck_jobs.pdf
