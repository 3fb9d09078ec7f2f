"""The concurrent writer whose stalls the bench measures.

A second connection updates random existing users (``age``) every
``WRITER_PAUSE`` seconds until stopped, and records when each write
began and how long it took. A write that waited for a lock shows as a
long one: that wait is the "stall" of the tables.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from dblab import sandbox
from dblab.bench import timing

T = TypeVar("T")

WRITER_PAUSE = 0.005  # seconds between the competing writer's updates


class Writer:
    """A second connection updating random existing rows until stopped."""

    def __init__(self, box: sandbox.Sandbox, size: int, seed: int) -> None:
        self.box = box
        self.size = size
        self.rng = random.Random(seed)  # noqa: S311 (picks row ids)
        self.samples: list[tuple[float, float]] = []
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()
        if self.error is not None:
            raise self.error

    def stalls(self, began: float, ended: float) -> list[float]:
        """Durations of the writes that overlapped ``[began, ended]``."""
        return [
            took
            for start, took in self.samples
            if start <= ended and start + took >= began
        ]

    def _loop(self) -> None:
        try:
            if self.box.backend == "sqlite":
                self._run_sqlite()
            else:
                self._run_server()
        except BaseException as error:  # reported by stop()
            self.error = error

    def _run_sqlite(self) -> None:
        connection = sqlite3.connect(
            self.box.url.database,
            timeout=120,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            while not self.done.is_set():
                began = time.perf_counter()
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(
                    "UPDATE users SET age = ? WHERE id = ?", self._pick()
                )
                connection.execute("COMMIT")
                self.samples.append((began, time.perf_counter() - began))
                self.done.wait(WRITER_PAUSE)
        finally:
            connection.close()

    def _run_server(self) -> None:
        connection = self.box.engine.raw_connection()
        try:
            cursor = connection.cursor()
            while not self.done.is_set():
                began = time.perf_counter()
                cursor.execute(
                    "UPDATE users SET age = %s WHERE id = %s", self._pick()
                )
                connection.commit()
                self.samples.append((began, time.perf_counter() - began))
                self.done.wait(WRITER_PAUSE)
        finally:
            connection.close()

    def _pick(self) -> tuple[int, int]:
        return self.rng.randint(18, 80), self.rng.randint(1, self.size)


@contextmanager
def writing(box: sandbox.Sandbox, size: int, seed: int) -> Iterator[Writer]:
    """The writer running around a block (its thread switched in fast).

    The writer is a thread: it gets the GIL within 0.5 ms (not the
    default 5 ms), so the stalls it records are the database's.
    """
    writer = Writer(box, size, seed)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    writer.start()
    time.sleep(0.05)
    try:
        yield writer
    finally:
        writer.stop()
        sys.setswitchinterval(switch)


def under_load(
    box: sandbox.Sandbox, size: int, seed: int, action: Callable[[], T]
) -> tuple[float, list[float], T]:
    """Seconds of ``action``, the writer's stalls during it, its result."""
    with timing.frozen_garbage(size), writing(box, size, seed) as writer:
        began = time.perf_counter()
        try:
            result = action()
        finally:
            ended = time.perf_counter()
    return ended - began, writer.stalls(began, ended), result
