"""Timing helpers of ``dblab bench``: a measured call, percentiles."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

GC_FROM = 100_000  # collect garbage before measurements from this size


@contextmanager
def frozen_garbage(size: int) -> Iterator[None]:
    """Collect (for big sizes), then freeze the heap for a measurement.

    The bench holds the rows of every method (millions of objects);
    frozen, they are not traversed by collections during the measurement.
    """
    if size >= GC_FROM:
        gc.collect()  # not inside the measurement (slow: when worth it)
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def timed(action: Callable[[], object], size: int) -> float:
    """Seconds ``action`` takes, the heap frozen."""
    with frozen_garbage(size):
        began = time.perf_counter()
        action()
        return time.perf_counter() - began


def best_of(timings: list[float]) -> str:
    """A note listing every timing when more than one was taken."""
    if len(timings) < 2:
        return ""
    shown = ", ".join(f"{t:.3f}" for t in timings)
    return f"best of {len(timings)} ({shown} s)"


def percentile(values: list[float], percent: float) -> float:
    """The nearest-rank percentile (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = math.ceil(percent / 100 * len(ordered)) - 1
    return ordered[max(0, min(rank, len(ordered) - 1))]
