"""Live traffic for the capstone: app versions running in the background.

:class:`Traffic` runs each *live* app version (:mod:`.versions`) in a
thread of its own: a steady mix of reads and writes at ``rate`` requests
per second, and records every request (version, start, latency, error).
It is bounded in time (``deadline`` seconds after start) and in count
(``max_requests``), and it stops by itself when the database is
unreachable for ``unreachable_after`` seconds. ``stop()`` (or leaving the
``with`` block, also through an exception: a failing step) ends every
thread and disposes the engine, so no thread and no connection is left.

Each version updates only its own slice of ids (``id % 4``), so what it
wrote last to a row is what the row holds: :attr:`Traffic.written` is
the ledger a grader checks the table against.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL

from app import database
from dblab import settings
from dblab.traffic.versions import (
    DUAL,
    NEW_ONLY,
    NEW_READ,
    OLD,
    VERSIONS,
    AppError,
    Version,
    Written,
    split_name,
)

__all__ = [
    "DUAL",
    "NEW_ONLY",
    "NEW_READ",
    "OLD",
    "VERSIONS",
    "Request",
    "Traffic",
    "split_name",
]

APPLICATION_NAME = "dblab_traffic"
"""PostgreSQL's ``application_name`` of the traffic's connections."""
READ_SHARE = 0.7
"""Fraction of requests that are reads."""


@dataclass(frozen=True)
class Request:
    """One request of the traffic: seconds since start, latency, error."""

    version: str
    kind: str
    at: float
    latency: float
    error: str | None = None


class Traffic:
    """The live app versions, each a worker thread (see the module)."""

    def __init__(
        self,
        url: URL,
        *,
        keys: int,
        rate: float = 40.0,
        deadline: float = 120.0,
        max_requests: int = 100_000,
        unreachable_after: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.url = url
        self.keys = max(int(keys), 1)
        self.rate = rate
        self.max_requests = max_requests
        self.unreachable_after = unreachable_after
        self.seed = seed
        self.engine = _engine(url)
        self.requests: list[Request] = []
        self.written: dict[int, Written] = {}
        self.stopped_because: str | None = None
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._workers: dict[str, tuple[threading.Thread, threading.Event]]
        self._workers = {}
        self._start = time.perf_counter()
        self._deadline = self._start + deadline
        self._failing_since: float | None = None
        self._writes = 0

    # -- the clock and the live versions --------------------------------

    def clock(self) -> float:
        """Seconds since the traffic started."""
        return time.perf_counter() - self._start

    @property
    def live(self) -> tuple[str, ...]:
        """The versions whose workers are running, in version order."""
        return tuple(v for v in VERSIONS if v in self._workers)

    @property
    def running(self) -> bool:
        return not self._halt.is_set()

    def deploy(self, version: str) -> None:
        """Start ``version``'s worker (it runs beside the others)."""
        if version not in VERSIONS:
            raise ValueError(f"unknown app version: {version!r}")
        if version in self._workers or self._halt.is_set():
            return
        stop = threading.Event()
        worker = threading.Thread(
            target=self._run,
            args=(Version(version), stop),
            name=f"dblab-traffic-{version}",
            daemon=True,
        )
        self._workers[version] = (worker, stop)
        worker.start()

    def retire(self, version: str) -> None:
        """Stop ``version``'s worker and wait for its last request."""
        found = self._workers.pop(version, None)
        if found is None:
            return
        worker, stop = found
        stop.set()
        worker.join()

    def stop(self, reason: str = "stopped") -> None:
        """Stop every worker, then release every connection."""
        self._halt_with(reason)
        for version in list(self._workers):
            self.retire(version)
        self.engine.dispose()

    def __enter__(self) -> Traffic:
        return self

    def __exit__(self, kind, error, trace) -> None:
        self.stop("step failed" if kind is not None else "stopped")

    def wait(self, seconds: float) -> None:
        """Let the traffic run for ``seconds`` (less if it stops)."""
        self._halt.wait(max(seconds, 0.0))

    # -- the workers ----------------------------------------------------

    def _halt_with(self, reason: str) -> None:
        with self._lock:
            if self.stopped_because is None:
                self.stopped_because = reason
        self._halt.set()

    def _run(self, version: Version, stop: threading.Event) -> None:
        slot = VERSIONS.index(version.name)
        rng = random.Random(f"{self.seed}:{version.name}")  # noqa: S311
        period = 1.0 / self.rate
        due = time.perf_counter()
        while not (stop.is_set() or self._halt.is_set()):
            if time.perf_counter() >= self._deadline:
                self._halt_with("deadline")
                break
            self._request(version, rng, slot)
            due += period
            pause = due - time.perf_counter()
            if pause > 0:
                stop.wait(pause)
            else:
                due = time.perf_counter()

    def _key(self, rng: random.Random, slot: int) -> int:
        """An existing id in this version's slice (``id % 4 == slot``)."""
        count = len(VERSIONS)
        base = rng.randrange(0, max(self.keys // count, 1)) * count
        key = base + slot
        return key if 1 <= key <= self.keys else slot or count

    def _request(self, version: Version, rng: random.Random, slot: int):
        kind = "read" if rng.random() < READ_SHARE else "write"
        key = self._key(rng, slot)
        error, written, lost = None, None, False
        started = time.perf_counter()
        try:
            with self.engine.begin() as connection:
                if kind == "read":
                    version.read(connection, key)
                else:
                    with self._lock:
                        self._writes += 1
                        tag = f"{version.name}-{self.seed}-{self._writes}"
                    written = version.write(connection, rng, key, tag)
        except AppError as problem:
            error = str(problem)
        except exc.SQLAlchemyError as problem:
            error = _first_line(problem)
            lost = _connection_lost(problem)
        except Exception as problem:  # a driver's own error: still recorded
            error = f"{type(problem).__name__}: {problem}"
        finished = time.perf_counter()
        record = Request(
            version.name,
            kind,
            started - self._start,
            finished - started,
            error,
        )
        with self._lock:
            self.requests.append(record)
            if written is not None:
                self.written[written.key] = written
            count = len(self.requests)
        self._note_reachability(lost, finished)
        if count >= self.max_requests:
            self._halt_with("max_requests")

    def _note_reachability(self, lost: bool, now: float) -> None:
        if not lost:
            self._failing_since = None
            return
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failing_since >= self.unreachable_after:
            self._halt_with("unreachable")


def _engine(url: URL) -> sa.Engine:
    """The app's engine; on SQLite every request takes the write lock first.

    A SQLite transaction that reads, then writes, cannot wait for another
    writer (SQLite answers "database is locked" at once to avoid a
    deadlock); ``BEGIN IMMEDIATE`` waits its turn instead, as a web app
    on SQLite should.
    """
    engine = database.make_engine(
        url,
        connect_args=_connect_args(url),
        pool_size=len(VERSIONS),
        max_overflow=0,
        pool_timeout=5,
    )
    if url.get_backend_name() == "sqlite":

        @event.listens_for(engine, "begin")
        def _immediate(connection: sa.Connection) -> None:
            driver = connection.connection.driver_connection
            if driver.in_transaction:
                driver.execute("ROLLBACK")  # the recipe's BEGIN, unused
            driver.execute("BEGIN IMMEDIATE")

    return engine


def _connect_args(url: URL) -> dict[str, object]:
    found = dict(settings.connect_args(url))
    if url.get_backend_name() == "postgresql":
        found["application_name"] = APPLICATION_NAME
    if url.get_backend_name() == "sqlite":
        found["timeout"] = 30  # a writer waits for the migration's lock
    return found


def _first_line(error: exc.SQLAlchemyError) -> str:
    origin = getattr(error, "orig", None) or error
    lines = str(origin).strip().splitlines()
    return lines[0] if lines else type(origin).__name__


def _connection_lost(error: exc.SQLAlchemyError) -> bool:
    """Could the request not reach the database at all?"""
    if isinstance(error, exc.TimeoutError):
        return True  # the pool waited in vain for a connection
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        return isinstance(
            error, exc.OperationalError | exc.InterfaceError
        ) and _sounds_unreachable(_first_line(error))
    return False


UNREACHABLE_WORDS = (
    "connection refused",
    "could not connect",
    "can't connect",
    "server closed the connection",
    "terminating connection",
    "lost connection",
    "accepting connections",
    "does not exist",
    "unable to open database",
    "connection timeout",
    "timeout expired",
)


def _sounds_unreachable(line: str) -> bool:
    lowered = line.lower()
    return any(word in lowered for word in UNREACHABLE_WORDS)
