"""``dblab bench``: the lecture's performance claims, measured here.

Three sections, each on SQLite and on the servers named by
``DBLAB_POSTGRES_URL`` / ``DBLAB_MYSQL_URL``:

- ``inserts``: the same users inserted by ORM ``add`` (flushed every
  1,000), ORM bulk ``insert(User)``, Core ``executemany``, the bare
  driver, and :mod:`dblab.seed` -- rows per second and the ratio to the
  bare driver;
- ``backfill``: the NULL e-mails of revision ``71cc828891fc`` filled by one
  UPDATE and by :func:`dblab.batching.backfill`, while a second connection
  keeps updating existing rows -- its worst and 99th-percentile stall;
- ``migration``: ``add_column`` against a batch-mode ``alter_column``
  (``users.age`` to NOT NULL) as the table grows.

Each measurement starts from empty tables: a new SQLite file, or on a
server the run's one sandbox database with every table dropped.
``--repeat N`` keeps the best of N insert timings (taken round robin);
``--orm-max`` bounds the slow ORM ``add`` (100,000 rows by default).
Every row names the backend, the row count and the versions it ran on;
``--csv`` and ``--png`` save the table and a chart.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gc
import importlib
import importlib.metadata
import math
import os
import platform
import random
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from app.models import Base, User
from dblab import migrate, sandbox, seed, settings
from dblab.errors import SettingsError
from dblab.steps import display_width

SECTIONS = ("inserts", "backfill", "migration")
FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
ORM_FLUSH_EVERY = 1_000
GC_FROM = 100_000  # collect garbage before measurements from this size
ORM_MAX = 100_000  # ORM add of 1M rows takes minutes: opt in with --orm-max
WRITER_PAUSE = 0.005  # seconds between the competing writer's updates
NULLABLE_EMAIL = "71cc828891fc"  # users(id, name, email NULL, age)
INSERT_COLUMNS = ("id", "name", "email", "age")

INSERT_METHODS = {
    "orm_add": "ORM add (1件ずつ)",
    "orm_bulk": "ORM bulk insert(User)",
    "core": "Core executemany",
    "raw": "素のドライバ executemany",
    "seed": "dblab.seed",
}
MIGRATION_METHODS = {
    "add_column": "add_column (NULL 可の列)",
    "alter_column": "batch alter_column (age NOT NULL)",
}
HEADERS = {
    "backend": "DB",
    "size": "行数",
    "label": "方法",
    "seconds": "秒",
    "rows_per_s": "行/秒",
    "ratio_to_raw": "素のドライバ比",
    "worst_stall_ms": "最大停止ms",
    "p99_stall_ms": "p99停止ms",
    "writes": "書込数",
    "versions": "バージョン",
}
COLUMNS = {
    "inserts": [
        "backend",
        "size",
        "label",
        "seconds",
        "rows_per_s",
        "ratio_to_raw",
        "versions",
    ],
    "backfill": [
        "backend",
        "size",
        "label",
        "seconds",
        "worst_stall_ms",
        "p99_stall_ms",
        "writes",
        "versions",
    ],
    "migration": ["backend", "size", "label", "seconds", "versions"],
}
TITLES = {
    "inserts": "挿入 (inserts): 同じ users 行を 5 通りで",
    "backfill": "バックフィル中の別の書き込み (backfill under load)",
    "migration": "マイグレーションの所要時間と表の大きさ (migration cost)",
}
PANELS = {
    "inserts": "挿入の速さ (inserts)",
    "backfill": "別の書き込みの停止 (backfill)",
    "migration": "マイグレーション時間 (migration)",
}


@dataclasses.dataclass
class Target:
    """One database server (or SQLite) and the versions it runs."""

    backend: str  # sqlite | postgresql | mysql
    server_url: URL | None
    label: str
    server: str
    driver: str
    box: sandbox.Sandbox | None = dataclasses.field(default=None, repr=False)

    @property
    def versions(self) -> str:
        return f"SQLAlchemy {sa.__version__}, {self.driver}, {self.server}"


@dataclasses.dataclass
class Result:
    """One measured row of the table."""

    section: str
    backend: str
    size: int
    method: str
    label: str
    seconds: float | None
    rows_per_s: float | None = None
    ratio_to_raw: float | None = None
    worst_stall_ms: float | None = None
    p99_stall_ms: float | None = None
    writes: int | None = None
    note: str = ""
    server: str = ""
    driver: str = ""
    sqlalchemy: str = sa.__version__
    alembic: str = importlib.metadata.version("alembic")
    versions: str = ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dblab bench``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"小さいサイズ {_sizes_text(QUICK_SIZES)} で 30 秒以内に",
    )
    parser.add_argument(
        "--sizes",
        type=_parse_sizes,
        help=f"行数 (既定 {_sizes_text(FULL_SIZES)}、例: 10k,100k,1M)",
    )
    parser.add_argument(
        "--sections",
        type=_parse_sections,
        default=SECTIONS,
        help=f"測る節 (既定: {','.join(SECTIONS)})",
    )
    parser.add_argument(
        "--backends",
        type=_parse_backends,
        help="sqlite,postgresql,mysql (既定: SQLite と設定済みのサーバー)",
    )
    parser.add_argument(
        "--orm-max",
        type=_parse_size,
        default=ORM_MAX,
        help=f"ORM add を測る最大行数 (既定 {ORM_MAX:,}; 1M は数分)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="挿入を N 回測って最良値をとる (best of N; 既定 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="乱数の種")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1_000,
        help="バックフィルの 1 バッチの行数 (既定 1000)",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.01,
        help="バッチ間の休止秒 (既定 0.01)",
    )
    parser.add_argument("--csv", type=Path, help="結果を CSV に保存する")
    parser.add_argument("--png", type=Path, help="グラフを PNG に保存する")


def run(args: argparse.Namespace) -> int:
    """Measure, print the tables, save CSV / PNG when asked."""
    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    targets = [_target(name) for name in _backends(args.backends)]
    print(_machine())
    results: list[Result] = []
    notes: list[str] = []
    try:
        for section in args.sections:
            measure = {
                "inserts": _inserts,
                "backfill": _backfill,
                "migration": _migration,
            }[section]
            for target in targets:
                for size in sizes:
                    for result in measure(target, size, args, notes):
                        result.server = target.server
                        result.driver = target.driver
                        result.versions = target.versions
                        results.append(result)
                        _progress(result)
    finally:
        for target in targets:
            if target.box is not None:
                target.box.close()
    _ratios(results)
    print(render(results))
    for note in dict.fromkeys(notes):
        print(f"注: {note}")
    if args.csv:
        write_csv(results, args.csv)
        print(f"CSV: {args.csv}")
    if args.png:
        write_png(results, args.png)
        print(f"PNG: {args.png}")
    return 0


# -- inserts ---------------------------------------------------------------


def _inserts(
    target: Target, size: int, args: argparse.Namespace, notes: list[str]
) -> Iterator[Result]:
    rows = [
        row for chunk in seed.user_rows(size, seed=args.seed) for row in chunk
    ]
    dicts = [dict(zip(INSERT_COLUMNS, row, strict=True)) for row in rows]
    methods: dict[str, Callable[[sandbox.Sandbox], None]] = {
        "orm_add": lambda sb: _orm_add(sb, rows),
        "orm_bulk": lambda sb: _orm_bulk(sb, dicts),
        "core": lambda sb: _core(sb, dicts),
        "raw": lambda sb: _raw(sb, rows),
        "seed": lambda sb: seed.users(
            sb.engine, size, seed=args.seed, progress=False
        ),
    }
    if size > args.orm_max:
        del methods["orm_add"]
        notes.append(
            f"ORM add は {args.orm_max:,} 行までにしました "
            "(skipped above --orm-max)"
        )
    # Round robin, so a burst of load elsewhere hits every method alike.
    timings: dict[str, list[float]] = {method: [] for method in methods}
    for _ in range(max(1, args.repeat)):
        for method, insert in methods.items():
            with _fresh(target, "bench_inserts") as sb:
                timings[method].append(
                    _timed(lambda: insert(sb), size)  # noqa: B023
                )
                _expect_rows(sb, size)
    for method, label in INSERT_METHODS.items():
        if method not in timings:
            yield Result(
                "inserts",
                target.label,
                size,
                method,
                label,
                None,
                note="skipped: size > --orm-max",
            )
            continue
        seconds = min(timings[method])
        yield Result(
            "inserts",
            target.label,
            size,
            method,
            label,
            seconds,
            rows_per_s=size / seconds,
            note=_best_of(timings[method]),
        )


def _orm_add(sb: sandbox.Sandbox, rows: list[tuple]) -> None:
    with Session(sb.engine) as session:
        for first in range(0, len(rows), ORM_FLUSH_EVERY):
            session.add_all(
                User(name=name, email=email, age=age)
                for _, name, email, age in rows[
                    first : first + ORM_FLUSH_EVERY
                ]
            )
            session.flush()
        session.commit()


def _orm_bulk(sb: sandbox.Sandbox, dicts: list[dict]) -> None:
    with Session(sb.engine) as session:
        session.execute(sa.insert(User), dicts)
        session.commit()


def _core(sb: sandbox.Sandbox, dicts: list[dict]) -> None:
    with sb.engine.begin() as connection:
        connection.execute(sa.insert(User.__table__), dicts)


def _raw(sb: sandbox.Sandbox, rows: list[tuple]) -> None:
    """The bare driver: no SQLAlchemy between the rows and the database."""
    names = ", ".join(INSERT_COLUMNS)
    if sb.backend == "sqlite":
        sb.engine.dispose()
        connection = sqlite3.connect(sb.url.database)
        marks = "?, ?, ?, ?"
    else:
        connection = sb.engine.raw_connection()
        marks = "%s, %s, %s, %s"
    try:
        cursor = connection.cursor()
        cursor.executemany(
            f"INSERT INTO users ({names}) VALUES ({marks})",  # noqa: S608
            rows,
        )
        connection.commit()
    finally:
        connection.close()


# -- backfill under load ---------------------------------------------------


def _placeholder_update() -> tuple[sa.TableClause, dict, sa.ColumnElement]:
    users = sa.table(
        "users",
        sa.column("id", sa.Integer()),
        sa.column("email", sa.String(length=120)),
    )
    values = {
        "email": "unknown-"
        + sa.cast(users.c.id, sa.String(length=20))
        + "@example.invalid"
    }
    return users, values, users.c.email.is_(None)


def _backfill(
    target: Target, size: int, args: argparse.Namespace, notes: list[str]
) -> Iterator[Result]:
    try:
        batching = importlib.import_module("dblab.batching")
    except ModuleNotFoundError as error:
        if error.name != "dblab.batching":
            raise
        batching = None
        notes.append(
            "dblab.batching がまだないため、バッチ版のバックフィルは"
            "省略しました (batching helper not available: skipped)"
        )
    users, values, where = _placeholder_update()

    def one_shot(sb: sandbox.Sandbox) -> str:
        with sb.engine.begin() as connection:
            connection.execute(sa.update(users).where(where).values(values))
        return ""

    def batched(pause: float) -> Callable[[sandbox.Sandbox], str]:
        def go(sb: sandbox.Sandbox) -> str:
            # The helper is resumable: a start or finish that meets the
            # other writer's lock is simply called again (and counted).
            interrupted = 0
            while True:
                try:
                    report = batching.backfill(
                        sb.engine,
                        users,
                        values,
                        where=where,
                        key="id",
                        batch_size=args.batch_size,
                        pause=pause,
                        progress=False,
                    )
                except sa.exc.OperationalError as error:
                    if "locked" not in str(error) or interrupted >= 5:
                        raise
                    interrupted += 1
                    continue
                note = f"batches={report.batches}, retries={report.retries}"
                if interrupted:
                    note += (
                        f", resumed after 'database is locked' x{interrupted}"
                    )
                return note

        return go

    methods = {"one_shot": ("一括 UPDATE (one-shot)", one_shot)}
    if batching is not None:
        methods["batches"] = (
            f"バッチ {args.batch_size} 行・休止なし",
            batched(0.0),
        )
        methods["batches_pause"] = (
            f"バッチ {args.batch_size} 行・休止 {args.pause * 1000:g} ms",
            batched(args.pause),
        )
    for method, (label, backfill) in methods.items():
        with _fresh(target, "bench_backfill", revision=NULLABLE_EMAIL) as sb:
            seed.users(
                sb.engine,
                size,
                seed=args.seed,
                with_null_emails=0.5,
                progress=False,
            )
            if size >= GC_FROM:
                gc.collect()
            gc.freeze()
            writer = _Writer(sb, size, args.seed)
            # The writer is a thread: let it have the GIL within 0.5 ms
            # (not the default 5 ms), so its stalls are the database's.
            switch = sys.getswitchinterval()
            sys.setswitchinterval(0.0005)
            writer.start()
            time.sleep(0.05)
            began = time.perf_counter()
            try:
                note = backfill(sb)
            finally:
                ended = time.perf_counter()
                writer.stop()
                sys.setswitchinterval(switch)
                gc.unfreeze()
            seconds = ended - began
            _expect_no_nulls(sb)
        stalls = writer.stalls(began, ended)
        yield Result(
            "backfill",
            target.label,
            size,
            method,
            label,
            seconds,
            rows_per_s=size / 2 / seconds,
            worst_stall_ms=max(stalls, default=0.0) * 1000,
            p99_stall_ms=_percentile(stalls, 99) * 1000,
            writes=len(stalls),
            note=note,
        )


class _Writer:
    """A second connection updating random existing rows until stopped."""

    def __init__(self, sb: sandbox.Sandbox, size: int, seed_: int) -> None:
        self.sb = sb
        self.size = size
        self.rng = random.Random(seed_)  # noqa: S311 (picks row ids)
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
            if self.sb.backend == "sqlite":
                self._run_sqlite()
            else:
                self._run_server()
        except BaseException as error:  # reported by stop()
            self.error = error

    def _run_sqlite(self) -> None:
        connection = sqlite3.connect(
            self.sb.url.database,
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
        connection = self.sb.engine.raw_connection()
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


# -- migration cost --------------------------------------------------------


def _migration(
    target: Target, size: int, args: argparse.Namespace, notes: list[str]
) -> Iterator[Result]:
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    def add_column(op: Operations) -> None:
        op.add_column(
            "users", sa.Column("nickname", sa.String(length=50), nullable=True)
        )

    def alter_column(op: Operations) -> None:
        with op.batch_alter_table("users") as batch_op:
            batch_op.alter_column(
                "age", existing_type=sa.Integer(), nullable=False
            )

    with _fresh(target, "bench_migration", revision="head") as sb:
        seed.users(sb.engine, size, seed=args.seed, progress=False)
        for method, change in (
            ("add_column", add_column),
            ("alter_column", alter_column),
        ):
            with sb.engine.connect() as connection:
                if sb.backend == "sqlite":
                    # Batch mode drops and recreates users: with foreign
                    # keys on, that DROP would cascade to child rows.
                    dbapi = connection.connection.dbapi_connection
                    dbapi.execute("PRAGMA foreign_keys=OFF")

                def apply(connection=connection, change=change) -> None:
                    with connection.begin():
                        change(
                            Operations(MigrationContext.configure(connection))
                        )

                seconds = _timed(apply, size)
                if sb.backend == "sqlite":
                    dbapi.execute("PRAGMA foreign_keys=ON")
            yield Result(
                "migration",
                target.label,
                size,
                method,
                MIGRATION_METHODS[method],
                seconds,
                rows_per_s=size / seconds,
            )
        _expect_rows(sb, size)


# -- shared pieces ---------------------------------------------------------


@contextmanager
def _fresh(
    target: Target, purpose: str, *, revision: str | None = None
) -> Iterator[sandbox.Sandbox]:
    """Empty tables for one measurement, at head or at ``revision``.

    On SQLite a new file each time; on a server the run's one sandbox
    database with every table dropped (creating a database per
    measurement costs more than most of the measurements).
    """
    if target.backend == "sqlite":
        box = sandbox.create(purpose, server=target.server_url)
    else:
        if target.box is None:
            target.box = sandbox.create("bench", server=target.server_url)
        box = target.box
        tables = sa.MetaData()
        tables.reflect(box.engine)
        tables.drop_all(box.engine)
    try:
        if revision is None:
            Base.metadata.create_all(box.engine)
        else:
            migrate.upgrade(box, revision)
        yield box
    finally:
        if target.backend == "sqlite":
            box.close()


def _timed(action: Callable[[], object], size: int) -> float:
    """Seconds ``action`` takes, without the bench's own garbage.

    The bench holds the rows of every method (millions of objects);
    frozen, they are not traversed by collections during the measurement.
    """
    if size >= GC_FROM:
        gc.collect()  # not inside the measurement (slow: only when worth it)
    gc.freeze()
    try:
        began = time.perf_counter()
        action()
        return time.perf_counter() - began
    finally:
        gc.unfreeze()


def _expect_rows(sb: sandbox.Sandbox, size: int) -> None:
    with sb.engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM users"))
        found = count.scalar_one()
    if found != size:
        raise RuntimeError(f"expected {size} users, found {found}")


def _expect_no_nulls(sb: sandbox.Sandbox) -> None:
    with sb.engine.connect() as connection:
        left = connection.execute(
            sa.text("SELECT count(*) FROM users WHERE email IS NULL")
        ).scalar_one()
    if left:
        raise RuntimeError(f"backfill left {left} NULL emails")


def _best_of(timings: list[float]) -> str:
    if len(timings) < 2:
        return ""
    shown = ", ".join(f"{t:.3f}" for t in timings)
    return f"best of {len(timings)} ({shown} s)"


def _percentile(values: list[float], percent: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = math.ceil(percent / 100 * len(ordered)) - 1
    return ordered[max(0, min(rank, len(ordered) - 1))]


def _ratios(results: list[Result]) -> None:
    raw = {
        (r.backend, r.size): r.seconds
        for r in results
        if r.section == "inserts" and r.method == "raw"
    }
    for result in results:
        base = raw.get((result.backend, result.size))
        if result.section == "inserts" and base and result.seconds:
            result.ratio_to_raw = result.seconds / base


def _backends(chosen: list[str] | None) -> list[str]:
    if chosen:
        return chosen
    names = ["sqlite"]
    if settings.postgres_url() is not None:
        names.append("postgresql")
    if settings.mysql_url() is not None:
        names.append("mysql")
    return names


def _target(backend: str) -> Target:
    """Connect once to learn the server and driver versions."""
    if backend == "sqlite":
        return Target(
            "sqlite",
            sa.engine.URL.create("sqlite"),
            "SQLite",
            f"SQLite {sqlite3.sqlite_version}",
            f"sqlite3 (Python {platform.python_version()})",
        )
    if backend == "postgresql":
        url, variable = settings.postgres_url(), "DBLAB_POSTGRES_URL"
    else:
        url, variable = settings.mysql_url(), "DBLAB_MYSQL_URL"
    if url is None:
        raise SettingsError(
            f"{variable} が設定されていません (no URL for {backend})"
        )
    version = settings.check_reachable(url)
    engine = sa.create_engine(url)
    driver = engine.dialect.driver
    engine.dispose()
    package = {
        "psycopg": "psycopg",
        "psycopg2": "psycopg2-binary",
        "pymysql": "PyMySQL",
        "mysqlconnector": "mysql-connector-python",
    }.get(driver, driver)
    try:
        driver_version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        driver_version = "?"
    if backend == "postgresql":
        label = "PostgreSQL"
        server = f"PostgreSQL {version.split()[1]}"
    else:
        label = "MariaDB" if "mariadb" in version.lower() else "MySQL"
        server = f"{label} {version.split('-')[0]}"
    return Target(backend, url, label, server, f"{driver} {driver_version}")


def _machine() -> str:
    return (
        f"dblab bench — このマシンでの実測 (this machine): "
        f"{platform.system()} {platform.machine()}, "
        f"{os.cpu_count() or 1} CPU, Python {platform.python_version()}"
    )


def _progress(result: Result) -> None:
    if settings.scale() == "test":
        return
    print(
        f"  … {result.section} {result.backend} {result.size:,} "
        f"{result.method}: {_cell(result, 'seconds')} s",
        file=sys.stderr,
        flush=True,
    )


# -- output ----------------------------------------------------------------


def _cell(result: Result, column: str) -> str:
    value = getattr(result, column)
    if value is None:
        return "—"
    if column == "size" or column == "writes":
        return f"{value:,}"
    if column == "seconds":
        return f"{value:.3f}"
    if column == "rows_per_s":
        return f"{value:,.0f}"
    if column == "ratio_to_raw":
        return f"{value:.2f}×"
    if column.endswith("_ms"):
        return f"{value:,.1f}"
    return str(value)


def _pad(text: str, width: int, right: bool) -> str:
    space = " " * (width - display_width(text))
    return space + text if right else text + space


def render(results: list[Result]) -> str:
    """The results as one plain-text table per section."""
    blocks = []
    for section in SECTIONS:
        rows = [r for r in results if r.section == section]
        if not rows:
            continue
        columns = COLUMNS[section]
        cells = [[HEADERS[c] for c in columns]]
        cells += [[_cell(r, c) for c in columns] for r in rows]
        widths = [
            max(display_width(row[i]) for row in cells)
            for i in range(len(columns))
        ]
        numeric = [c not in ("backend", "label", "versions") for c in columns]
        lines = [f"## {TITLES[section]}"]
        for index, row in enumerate(cells):
            lines.append(
                "  ".join(
                    _pad(text, width, right)
                    for text, width, right in zip(
                        row, widths, numeric, strict=True
                    )
                ).rstrip()
            )
            if index == 0:
                lines.append("  ".join("-" * w for w in widths))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def write_csv(results: list[Result], path: Path) -> None:
    """Every field of every result, one row each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = [f.name for f in dataclasses.fields(Result)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for result in results:
            writer.writerow(dataclasses.asdict(result))


def write_png(results: list[Result], path: Path) -> None:
    """One panel per section and backend (Japanese labels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (Japanese glyphs)

    sections = [s for s in SECTIONS if any(r.section == s for r in results)]
    backends = list(dict.fromkeys(r.backend for r in results))
    figure, axes = plt.subplots(
        len(sections),
        len(backends),
        figsize=(5.5 * len(backends), 4.6 * len(sections)),
        squeeze=False,
    )
    for row, section in enumerate(sections):
        for col, backend in enumerate(backends):
            ax = axes[row][col]
            chosen = [
                r
                for r in results
                if r.section == section and r.backend == backend
            ]
            _panel(ax, section, chosen)
            ax.set_title(f"{backend}: {PANELS[section]}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _panel(ax, section: str, results: list[Result]) -> None:
    if not results:
        ax.set_axis_off()
        return
    sizes = sorted({r.size for r in results})
    methods = list(dict.fromkeys(r.method for r in results))
    labels = {r.method: r.label for r in results}
    if section == "migration":
        for method in methods:
            points = sorted(
                (r.size, r.seconds) for r in results if r.method == method
            )
            ax.plot(
                *zip(*points, strict=True), marker="o", label=labels[method]
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("行数")
        ax.set_ylabel("秒")
    else:
        field, unit = (
            ("rows_per_s", "行/秒")
            if section == "inserts"
            else ("worst_stall_ms", "別の書き込みの最大停止 (ms)")
        )
        width = 0.8 / len(methods)
        for index, method in enumerate(methods):
            values = {
                r.size: getattr(r, field)
                for r in results
                if r.method == method
            }
            ax.bar(
                [i + index * width for i in range(len(sizes))],
                [values.get(s) or math.nan for s in sizes],
                width,
                label=labels[method],
            )
        ax.set_xticks(
            [i + 0.4 - width / 2 for i in range(len(sizes))],
            [f"{s:,}" for s in sizes],
        )
        ax.set_yscale("log")
        ax.set_xlabel("行数")
        ax.set_ylabel(unit)
    ax.legend(
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        ncol=2,
        frameon=False,
    )


# -- argument parsing ------------------------------------------------------


def _parse_size(text: str) -> int:
    """``1000``, ``10k``, ``1M`` or ``1_000_000`` as a row count."""
    part = text.strip().lower().replace("_", "")
    factor = 1
    if part.endswith("k"):
        factor, part = 1_000, part[:-1]
    elif part.endswith("m"):
        factor, part = 1_000_000, part[:-1]
    try:
        size = round(float(part) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"行数が読めません (bad size): {text!r}"
        ) from None
    if size < 1:
        raise argparse.ArgumentTypeError(f"行数は 1 以上: {text!r}")
    return size


def _parse_sizes(text: str) -> tuple[int, ...]:
    return tuple(_parse_size(part) for part in text.split(","))


def _parse_sections(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"節は {', '.join(SECTIONS)} から選んでください: {text!r}"
        )
    return chosen


def _parse_backends(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in chosen if name not in settings.BACKENDS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"DB は {', '.join(settings.BACKENDS)} から選んでください: "
            f"{text!r}"
        )
    return chosen


def _sizes_text(sizes: tuple[int, ...]) -> str:
    return "/".join(f"{s:,}" for s in sizes)
