"""What a ``dblab bench`` section module declares.

Like the suites of SQLAlchemy's ``examples/performance``, each section
is one module in :mod:`dblab.bench.sections`: it names itself once, in a
module-level ``SECTION``, and the registry, the command line and the
report read everything from there (title, columns, chart, options and
``measure()``).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterable

from dblab.bench.result import Result
from dblab.bench.server import MeasuredDatabase

Measure = Callable[
    [MeasuredDatabase, int, argparse.Namespace, list[str]], Iterable[Result]
]
"""``measure(database, size, args, notes)``: the rows of one size.

``notes`` collects lines printed under the tables (``注: ...``).
"""


@dataclasses.dataclass(frozen=True)
class Chart:
    """How the PNG draws a section: bars of ``field`` or lines of seconds."""

    kind: str  # "bars" (one bar per method and size) | "lines"
    field: str = "seconds"
    unit: str = "秒"


@dataclasses.dataclass(frozen=True)
class Section:
    """One measurement section of ``dblab bench``."""

    name: str
    order: int  # position in the report (smaller first)
    title: str  # heading of its text table
    panel: str  # title of its chart panels
    columns: tuple[str, ...]  # Result fields shown in the text table
    measure: Measure
    chart: Chart
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    sizes: Callable[[argparse.Namespace], tuple[int, ...]] | None = None
    """The row counts it runs at, when not the run's (``--sizes`` wins)."""
