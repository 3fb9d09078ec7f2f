"""The Python entry points: :func:`lint` for notebooks and deploy,
:func:`check_paths` for the command (findings and errors together)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dblab.lint import chain, output, project
from dblab.lint.checks import Settings
from dblab.lint.finding import Finding, LintError, Report
from dblab.lint.rules import SUPPORTED


def settings_for(
    path: Path,
    dialects: Iterable[str] | None = None,
    disable: Iterable[str] = (),
    use_config: bool = True,
) -> tuple[Settings, project.Config]:
    """Settings from ``[tool.dblab.lint]``, overridden by the arguments."""
    config = project.find_config(path) if use_config else project.Config()
    chosen = (
        project.dialects(list(dialects), "--dialect")
        if dialects
        else config.dialects
    )
    disabled = config.disable | frozenset(
        project.codes(list(disable), "--disable")
    )
    return Settings(chosen or frozenset(SUPPORTED), disabled), config


def check_paths(
    paths: list[Path],
    *,
    dialects: Iterable[str] | None = None,
    disable: Iterable[str] = (),
    since: str | None = None,
    baseline: Path | None = None,
    use_config: bool = True,
    use_baseline: bool = True,
) -> Report:
    """Lint each path; unreadable input becomes an error line, not a stop."""
    report = Report()
    for path in paths:
        try:
            settings, config = settings_for(
                path, dialects, disable, use_config
            )
            found = chain.lint_path(path, settings, since)
            accepted = baseline or config.baseline
            if accepted is not None and use_baseline:
                found.findings = output.without_baseline(
                    found.findings, output.read_baseline(accepted)
                )
        except LintError as error:
            report.errors.append(str(error))
            continue
        report.findings += found.findings
        report.errors += found.errors
    return report.sort()


def lint(
    path: Path,
    *,
    dialects: Iterable[str] | None = None,
    disable: Iterable[str] = (),
    since: str | None = None,
) -> list[Finding]:
    """Lint one revision file or a whole versions folder.

    Raises :class:`LintError` (one line per unreadable file) when any input
    could not be read; otherwise returns the findings, sorted by file and
    line.
    """
    report = check_paths(
        [Path(path)], dialects=dialects, disable=disable, since=since
    )
    if report.errors:
        raise LintError("\n".join(report.errors))
    return report.findings
