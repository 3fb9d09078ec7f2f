"""Inserts: the same users inserted five ways, rows per second.

ORM ``add`` (flushed every 1,000), ORM bulk ``insert(User)``, Core
``executemany``, the bare driver, and :mod:`dblab.seed`; each row also
gives its ratio to the bare driver of the same size. ``--repeat N``
keeps the best of N timings (taken round robin); ``--orm-max`` bounds
the slow ORM ``add``.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import User
from dblab import sandbox, seed
from dblab.bench import server, timing
from dblab.bench.command import parse_size
from dblab.bench.result import Result
from dblab.bench.section import Chart, Section

ORM_FLUSH_EVERY = 1_000
ORM_MAX = 100_000  # ORM add of 1M rows takes minutes: opt in with --orm-max
INSERT_COLUMNS = ("id", "name", "email", "age")

METHODS = {
    "orm_add": "ORM add (1件ずつ)",
    "orm_bulk": "ORM bulk insert(User)",
    "core": "Core executemany",
    "raw": "素のドライバ executemany",
    "seed": "dblab.seed",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--orm-max",
        type=parse_size,
        default=ORM_MAX,
        help=f"ORM add を測る最大行数 (既定 {ORM_MAX:,}; 1M は数分)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="挿入を N 回測って最良値をとる (best of N; 既定 1)",
    )


def measure(
    database: server.MeasuredDatabase,
    size: int,
    args: argparse.Namespace,
    notes: list[str],
) -> Iterator[Result]:
    """Every method at ``size``, best of ``--repeat``, round robin."""
    rows = [
        row for chunk in seed.user_rows(size, seed=args.seed) for row in chunk
    ]
    dicts = [dict(zip(INSERT_COLUMNS, row, strict=True)) for row in rows]
    methods: dict[str, Callable[[sandbox.Sandbox], None]] = {
        "orm_add": lambda box: _orm_add(box, rows),
        "orm_bulk": lambda box: _orm_bulk(box, dicts),
        "core": lambda box: _core(box, dicts),
        "raw": lambda box: _raw(box, rows),
        "seed": lambda box: seed.users(
            box.engine, size, seed=args.seed, progress=False
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
            with server.fresh(database, "bench_inserts") as box:
                timings[method].append(
                    timing.timed(lambda: insert(box), size)  # noqa: B023
                )
                server.expect_rows(box, size)
    raw = min(timings["raw"])
    for method, label in METHODS.items():
        if method not in timings:
            yield Result(
                "inserts",
                database.label,
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
            database.label,
            size,
            method,
            label,
            seconds,
            rows_per_s=size / seconds,
            ratio_to_raw=seconds / raw,
            note=timing.best_of(timings[method]),
        )


def _orm_add(box: sandbox.Sandbox, rows: list[tuple]) -> None:
    with Session(box.engine) as session:
        for first in range(0, len(rows), ORM_FLUSH_EVERY):
            session.add_all(
                User(name=name, email=email, age=age)
                for _, name, email, age in rows[
                    first : first + ORM_FLUSH_EVERY
                ]
            )
            session.flush()
        session.commit()


def _orm_bulk(box: sandbox.Sandbox, dicts: list[dict]) -> None:
    with Session(box.engine) as session:
        session.execute(sa.insert(User), dicts)
        session.commit()


def _core(box: sandbox.Sandbox, dicts: list[dict]) -> None:
    with box.engine.begin() as connection:
        connection.execute(sa.insert(User.__table__), dicts)


def _raw(box: sandbox.Sandbox, rows: list[tuple]) -> None:
    """The bare driver: no SQLAlchemy between the rows and the database."""
    names = ", ".join(INSERT_COLUMNS)
    if box.backend == "sqlite":
        box.engine.dispose()
        connection = sqlite3.connect(box.url.database)
        marks = "?, ?, ?, ?"
    else:
        connection = box.engine.raw_connection()
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


SECTION = Section(
    name="inserts",
    order=10,
    title="挿入 (inserts): 同じ users 行を 5 通りで",
    panel="挿入の速さ (inserts)",
    columns=(
        "backend",
        "size",
        "label",
        "seconds",
        "rows_per_s",
        "ratio_to_raw",
        "versions",
    ),
    measure=measure,
    chart=Chart("bars", "rows_per_s", "行/秒"),
    add_arguments=add_arguments,
)
