"""Migration cost: ``add_column`` against a batch ``alter_column``.

Both on the app's head schema as the table grows: a nullable column
added, then ``users.age`` made NOT NULL in batch mode (a table rebuild
on SQLite, an ALTER on the servers).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

from dblab import revisions, seed
from dblab.bench import server, timing
from dblab.bench.result import Result
from dblab.bench.section import Chart, Section

METHODS = {
    "add_column": "add_column (NULL 可の列)",
    "alter_column": "batch alter_column (age NOT NULL)",
}


def _add_column(op: Operations) -> None:
    op.add_column(
        "users", sa.Column("nickname", sa.String(length=50), nullable=True)
    )


def _alter_column(op: Operations) -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column(
            "age", existing_type=sa.Integer(), nullable=False
        )


CHANGES = {"add_column": _add_column, "alter_column": _alter_column}


def measure(
    database: server.MeasuredDatabase,
    size: int,
    args: argparse.Namespace,
    notes: list[str],  # noqa: ARG001
) -> Iterator[Result]:
    """Each change once, in order, on ``size`` seeded users."""
    with server.fresh(database, "bench_migration", to=revisions.HEAD) as box:
        seed.users(box.engine, size, seed=args.seed, progress=False)
        for method, change in CHANGES.items():
            with box.engine.connect() as connection:
                if box.backend == "sqlite":
                    # Batch mode drops and recreates users: with foreign
                    # keys on, that DROP would cascade to child rows.
                    dbapi = connection.connection.dbapi_connection
                    dbapi.execute("PRAGMA foreign_keys=OFF")

                def apply(connection=connection, change=change) -> None:
                    with connection.begin():
                        context = MigrationContext.configure(connection)
                        change(Operations(context))

                seconds = timing.timed(apply, size)
                if box.backend == "sqlite":
                    dbapi.execute("PRAGMA foreign_keys=ON")
            yield Result(
                "migration",
                database.label,
                size,
                method,
                METHODS[method],
                seconds,
                rows_per_s=size / seconds,
            )
        server.expect_rows(box, size)


SECTION = Section(
    name="migration",
    order=30,
    title="マイグレーションの所要時間と表の大きさ (migration cost)",
    panel="マイグレーション時間 (migration)",
    columns=("backend", "size", "label", "seconds", "versions"),
    measure=measure,
    chart=Chart("lines", "seconds", "秒"),
)
