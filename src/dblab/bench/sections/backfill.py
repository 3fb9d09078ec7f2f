"""Backfill under load: a second writer's stalls while NULLs are filled.

The NULL e-mails of revision ``AGE_ADDED`` are filled (with the value
revision ``EMAIL_NOT_NULL`` uses) by one UPDATE, by
:func:`dblab.batching.backfill` walking the key back to back and with a
pause, and -- for the before/after in the same run -- by the same
helper walking with OFFSET as the kit did before. Meanwhile a second
connection keeps updating existing rows; its worst and 99th-percentile
write time is the stall. The batched times include the pauses. Each
table is analyzed after seeding (see :func:`dblab.bench.server.analyze`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator

import sqlalchemy as sa

from dblab import batching, revisions, sandbox, seed
from dblab.bench import server, timing
from dblab.bench.result import Result
from dblab.bench.section import Chart, Section
from dblab.bench.writer import under_load

Backfill = Callable[[sandbox.Sandbox], str]

USERS = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("email", sa.String(length=120)),
)
PLACEHOLDER = {
    "email": "unknown-"
    + sa.cast(USERS.c.id, sa.String(length=20))
    + "@example.invalid"
}
MISSING = USERS.c.email.is_(None)
LOCKED_RETRIES = 5  # resumable: a start that meets the writer, again


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-size",
        type=int,
        help="backfill の 1 バッチの行数 (既定: DB ごとの推奨値)",
    )
    parser.add_argument(
        "--pause",
        type=float,
        help="バッチ間の休止秒 (既定: DB ごとの推奨値)",
    )


def _one_shot(box: sandbox.Sandbox) -> str:
    with box.engine.begin() as connection:
        connection.execute(sa.update(USERS).where(MISSING).values(PLACEHOLDER))
    return ""


def _batched(size: int, pause: float, walk: str) -> Backfill:
    def run(box: sandbox.Sandbox) -> str:
        interrupted = 0
        while True:
            try:
                report = batching.backfill(
                    box.engine,
                    USERS,
                    PLACEHOLDER,
                    where=MISSING,
                    key="id",
                    batch_size=size,
                    pause=pause,
                    progress=False,
                    walk=walk,
                )
            except sa.exc.OperationalError as error:
                if "locked" not in str(error) or interrupted >= LOCKED_RETRIES:
                    raise
                interrupted += 1
                continue
            note = f"batches={report.batches}, retries={report.retries}"
            if interrupted:
                note += f", resumed after 'database is locked' x{interrupted}"
            return note

    return run


def methods(
    backend: str, args: argparse.Namespace
) -> dict[str, tuple[str, Backfill]]:
    """Method name -> (label, backfill) for one backend."""
    size, pause = batching.recommended(backend)
    size = args.batch_size or size
    pause = pause if args.pause is None else args.pause
    rows = f"バッチ {size} 行"
    rest = f"休止 {pause * 1000:g} ms"
    return {
        "one_shot": ("一括 UPDATE (one-shot)", _one_shot),
        "batches_offset": (
            f"{rows}・{rest} (以前の OFFSET 版)",
            _batched(size, pause, "offset"),
        ),
        "batches": (f"{rows}・休止なし", _batched(size, 0.0, "key")),
        "batches_pause": (f"{rows}・{rest}", _batched(size, pause, "key")),
    }


def measure(
    database: server.MeasuredDatabase,
    size: int,
    args: argparse.Namespace,
    notes: list[str],  # noqa: ARG001
) -> Iterator[Result]:
    """Each method on freshly seeded users, the writer running."""
    for method, (label, backfill) in methods(database.backend, args).items():
        with server.fresh(
            database, "bench_backfill", to=revisions.AGE_ADDED
        ) as box:
            seed.users(
                box.engine,
                size,
                seed=args.seed,
                with_null_emails=0.5,
                progress=False,
            )
            server.analyze(box)
            seconds, stalls, note = under_load(
                box,
                size,
                args.seed,
                lambda: backfill(box),  # noqa: B023
            )
            left = server.count_rows(box, "email IS NULL")
            if left:
                raise RuntimeError(f"backfill left {left} NULL emails")
        yield Result(
            "backfill",
            database.label,
            size,
            method,
            label,
            seconds,
            rows_per_s=size / 2 / seconds,
            worst_stall_ms=max(stalls, default=0.0) * 1000,
            p99_stall_ms=timing.percentile(stalls, 99) * 1000,
            writes=len(stalls),
            note=note,
        )


SECTION = Section(
    name="backfill",
    order=20,
    title="backfill 中の別の書き込み (backfill under load)",
    panel="別の書き込みの停止 (backfill)",
    columns=(
        "backend",
        "size",
        "label",
        "seconds",
        "worst_stall_ms",
        "p99_stall_ms",
        "writes",
        "versions",
    ),
    measure=measure,
    chart=Chart("bars", "worst_stall_ms", "別の書き込みの最大停止 (ms)"),
    add_arguments=add_arguments,
)
