"""Reports made of timed steps: the guarded upgrade's and the deploy's.

A report subclasses :class:`StepLog`, names its steps in ``NAMES`` and
records each with ``with report.step("backup") as step: ...``: the step
is timed, and an exception marks it failed (in one line) and propagates.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy.exc import StatementError

from dblab.errors import DblabError

MARKS = {"ok": "✓", "failed": "✗", "skipped": "–", "warning": "!"}


@dataclass
class Step:
    """One step of a report."""

    key: str
    status: str = "ok"
    detail: str = ""
    seconds: float = 0.0
    names: Mapping[str, str] | None = None

    @property
    def name(self) -> str:
        return (self.names or {}).get(self.key, self.key)

    @property
    def mark(self) -> str:
        return MARKS[self.status]


class StepLog:
    """``step()`` and ``skip()`` for a report with a ``steps`` list."""

    NAMES: ClassVar[Mapping[str, str]] = {}
    steps: list[Step]

    @contextmanager
    def step(self, key: str) -> Iterator[Step]:
        """Time one step; an exception marks it failed and propagates."""
        import time

        current = Step(key, names=self.NAMES)
        self.steps.append(current)
        started = time.perf_counter()
        try:
            yield current
        except BaseException as error:
            current.status = "failed"
            current.detail = current.detail or one_line(error)
            raise
        finally:
            current.seconds = time.perf_counter() - started

    def skip(self, key: str, reason: str) -> None:
        """Record a step that did not run, and why."""
        self.steps.append(Step(key, "skipped", reason, names=self.NAMES))

    def frame(self):
        """The steps as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(
            [
                (s.name, s.mark, round(s.seconds, 3), s.detail)
                for s in self.steps
            ],
            columns=["step", "status", "seconds", "detail"],
        )

    def status(self, key: str) -> str | None:
        """The status of the last step ``key`` (None if not reached)."""
        found = [s.status for s in self.steps if s.key == key]
        return found[-1] if found else None

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # IPython
        printer.text(repr(self) if cycle else str(self))

    def step_lines(self, *, seconds: bool = False) -> list[str]:
        """The steps as aligned, numbered lines."""
        width = max(display_width(name) for name in self.NAMES.values())
        lines = []
        for number, s in enumerate(self.steps, 1):
            pad = " " * (width - display_width(s.name))
            timing = ""
            if seconds:
                timing = (
                    f"  {s.seconds:6.2f} s"
                    if s.status != "skipped"
                    else " " * 10
                )
            lines.append(
                f"  {number} {s.mark} {s.name}{pad}{timing}  {s.detail}"
            )
        return lines


def one_line(error: BaseException) -> str:
    """An error as one line; the driver's own error for a SQL failure."""
    if isinstance(error, StatementError) and error.orig is not None:
        error = error.orig
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    if isinstance(error, DblabError):
        return first
    name = type(error).__name__
    return f"{name}: {first}" if first else name


def display_width(text: str) -> int:
    """Columns on a terminal: a Japanese character takes two."""
    import unicodedata

    return sum(
        2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text
    )
