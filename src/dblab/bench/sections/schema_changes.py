"""Schema changes under load: the naive form against the safe one.

Three changes on a populated ``users`` (the app's head schema), each
while the bench's writer keeps updating rows: ``age`` made NOT NULL,
an index on ``name``, ``age`` from INTEGER to BIGINT. Per database:

- PostgreSQL: ``SET NOT NULL`` (a scan under ACCESS EXCLUSIVE) against
  ``CHECK (age IS NOT NULL) NOT VALID`` -> ``VALIDATE`` -> ``SET NOT
  NULL`` -> drop the check, each in its own transaction; ``CREATE
  INDEX`` (blocks writes for the build) against ``CONCURRENTLY``;
  ``ALTER ... TYPE BIGINT`` (a rewrite under ACCESS EXCLUSIVE) against a
  new column kept in step by a trigger, a batched backfill and a swap.
- MariaDB / MySQL: the plain ALTER against the same with ``ALGORITHM=
  INPLACE, LOCK=NONE``, which the server refuses rather than lock when
  it cannot do the change online (INTEGER -> BIGINT: then the new
  column, triggers, backfill and swap as on PostgreSQL).
- SQLite has no online DDL (any ALTER holds the database's one write
  lock), so it is not measured here.

One million rows by default, 100,000 with ``--quick``; ``--sizes`` wins.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import sqlalchemy as sa

from dblab import batching, revisions, sandbox, seed
from dblab.bench import server
from dblab.bench.result import Result
from dblab.bench.section import Chart, Section
from dblab.bench.writer import under_load

Steps = list[str]
REFUSED = "refused"

POSTGRESQL: dict[str, tuple[str, Steps, Steps]] = {
    # method: (label, steps (each its own transaction), undo)
    "not_null_naive": (
        "NOT NULL: SET NOT NULL",
        ["ALTER TABLE users ALTER COLUMN age SET NOT NULL"],
        ["ALTER TABLE users ALTER COLUMN age DROP NOT NULL"],
    ),
    "not_null_safe": (
        "NOT NULL: CHECK NOT VALID → VALIDATE → SET NOT NULL",
        [
            "ALTER TABLE users ADD CONSTRAINT ck_users_age_nn "
            "CHECK (age IS NOT NULL) NOT VALID",
            "ALTER TABLE users VALIDATE CONSTRAINT ck_users_age_nn",
            "ALTER TABLE users ALTER COLUMN age SET NOT NULL",
            "ALTER TABLE users DROP CONSTRAINT ck_users_age_nn",
        ],
        ["ALTER TABLE users ALTER COLUMN age DROP NOT NULL"],
    ),
    "index_naive": (
        "索引: CREATE INDEX",
        ["CREATE INDEX ix_users_name ON users (name)"],
        ["DROP INDEX ix_users_name"],
    ),
    "index_safe": (
        "索引: CREATE INDEX CONCURRENTLY",
        ["CREATE INDEX CONCURRENTLY ix_users_name ON users (name)"],
        ["DROP INDEX ix_users_name"],
    ),
    "bigint_naive": (
        "BIGINT: ALTER COLUMN TYPE",
        ["ALTER TABLE users ALTER COLUMN age TYPE BIGINT"],
        ["ALTER TABLE users ALTER COLUMN age TYPE INTEGER"],
    ),
}
POSTGRESQL_COPY = [
    "ALTER TABLE users ADD COLUMN age_big BIGINT",
    "CREATE FUNCTION users_age_big() RETURNS trigger AS "
    "$$ BEGIN NEW.age_big := NEW.age; RETURN NEW; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER users_age_big BEFORE INSERT OR UPDATE ON users "
    "FOR EACH ROW EXECUTE FUNCTION users_age_big()",
]
POSTGRESQL_SWAP = [
    "SET LOCAL lock_timeout = '2s'",
    "DROP TRIGGER users_age_big ON users",
    "DROP FUNCTION users_age_big()",
    "ALTER TABLE users DROP COLUMN age",
    "ALTER TABLE users RENAME COLUMN age_big TO age",
]
ONLINE = ", ALGORITHM=INPLACE, LOCK=NONE"
MARIADB: dict[str, tuple[str, Steps, Steps]] = {
    "not_null_naive": (
        "NOT NULL: MODIFY (既定)",
        ["ALTER TABLE users MODIFY age INTEGER NOT NULL"],
        ["ALTER TABLE users MODIFY age INTEGER NULL"],
    ),
    "not_null_safe": (
        "NOT NULL: MODIFY … LOCK=NONE",
        ["ALTER TABLE users MODIFY age INTEGER NOT NULL" + ONLINE],
        ["ALTER TABLE users MODIFY age INTEGER NULL"],
    ),
    "index_naive": (
        "索引: CREATE INDEX (既定)",
        ["CREATE INDEX ix_users_name ON users (name)"],
        ["DROP INDEX ix_users_name ON users"],
    ),
    "index_safe": (
        "索引: CREATE INDEX … LOCK=NONE",
        [
            "CREATE INDEX ix_users_name ON users (name) ALGORITHM=INPLACE "
            "LOCK=NONE"
        ],
        ["DROP INDEX ix_users_name ON users"],
    ),
    "bigint_naive": (
        "BIGINT: MODIFY (既定)",
        ["ALTER TABLE users MODIFY age BIGINT"],
        ["ALTER TABLE users MODIFY age INTEGER"],
    ),
    "bigint_online": (
        "BIGINT: MODIFY … LOCK=NONE",
        ["ALTER TABLE users MODIFY age BIGINT" + ONLINE],
        [],
    ),
}
MARIADB_COPY = [
    "ALTER TABLE users ADD COLUMN age_big BIGINT",
    "CREATE TRIGGER users_age_big_i BEFORE INSERT ON users "
    "FOR EACH ROW SET NEW.age_big = NEW.age",
    "CREATE TRIGGER users_age_big_u BEFORE UPDATE ON users "
    "FOR EACH ROW SET NEW.age_big = NEW.age",
]
MARIADB_SWAP = [
    "DROP TRIGGER users_age_big_i",
    "DROP TRIGGER users_age_big_u",
    "ALTER TABLE users DROP COLUMN age, RENAME COLUMN age_big TO age",
]
SAFE_BIGINT = "BIGINT: 新しい列 + トリガー + バッチ + 入れ替え"
USERS = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("age", sa.Integer()),
    sa.column("age_big", sa.BigInteger()),
)


def sizes(args: argparse.Namespace) -> tuple[int, ...]:
    """One million rows, 100,000 with ``--quick``."""
    return (100_000,) if args.quick else (1_000_000,)


def measure(
    database: server.MeasuredDatabase,
    size: int,
    args: argparse.Namespace,
    notes: list[str],
) -> Iterator[Result]:
    """Each form on one seeded table, undone (unmeasured) after it."""
    if database.backend == "sqlite":
        notes.append(
            "SQLite にはオンラインの DDL がないので schema_changes は"
            "サーバーだけで測ります (SQLite: no online DDL, skipped)"
        )
        return
    forms = POSTGRESQL if database.backend == "postgresql" else MARIADB
    with server.fresh(database, "bench_ddl", to=revisions.HEAD) as box:
        seed.users(box.engine, size, seed=args.seed, progress=False)
        server.analyze(box)
        for method, (label, steps, undo) in forms.items():
            yield _form(box, size, args, method, label, steps, notes)
            _run(box, undo)
        yield _safe_bigint(box, size, args)
        server.expect_rows(box, size)


def _form(
    box: sandbox.Sandbox,
    size: int,
    args: argparse.Namespace,
    method: str,
    label: str,
    steps: Steps,
    notes: list[str],
) -> Result:
    def apply() -> str:
        try:
            _run(box, steps)
        except sa.exc.DBAPIError as error:
            if box.backend != "mysql" or "LOCK=NONE" not in steps[-1]:
                raise
            notes.append(
                f"{box.label}: 「{label}」は拒否されました "
                f"(refused: {str(error.orig).splitlines()[0]})"
            )
            return REFUSED
        return ""

    seconds, stalls, outcome = under_load(box, size, args.seed, apply)
    return _result(box, size, method, label, seconds, stalls, outcome)


def _safe_bigint(
    box: sandbox.Sandbox, size: int, args: argparse.Namespace
) -> Result:
    copy, swap = (
        (POSTGRESQL_COPY, POSTGRESQL_SWAP)
        if box.backend == "postgresql"
        else (MARIADB_COPY, MARIADB_SWAP)
    )
    batch, pause = batching.recommended(box.backend)

    def apply() -> str:
        _run(box, copy)
        report = batching.backfill(
            box.engine,
            USERS,
            {"age_big": USERS.c.age},
            where=USERS.c.age_big.is_(None) & USERS.c.age.is_not(None),
            batch_size=batch,
            pause=pause,
            progress=False,
        )
        _run(box, swap, one_transaction=True)
        return f"batches={report.batches}"

    seconds, stalls, note = under_load(box, size, args.seed, apply)
    return _result(
        box, size, "bigint_safe", SAFE_BIGINT, seconds, stalls, note
    )


def _run(
    box: sandbox.Sandbox, steps: Steps, *, one_transaction: bool = False
) -> None:
    """Each step committed on its own (or all in one transaction)."""
    if one_transaction:
        with box.engine.begin() as connection:
            for step in steps:
                connection.exec_driver_sql(step)
        return
    with box.engine.connect().execution_options(
        isolation_level="AUTOCOMMIT"
    ) as connection:
        for step in steps:
            connection.exec_driver_sql(step)


def _result(
    box: sandbox.Sandbox,
    size: int,
    method: str,
    label: str,
    seconds: float,
    stalls: list[float],
    note: str,
) -> Result:
    refused = note == REFUSED
    return Result(
        "schema_changes",
        box.label,
        size,
        method,
        label,
        None if refused else seconds,
        worst_stall_ms=None if refused else max(stalls, default=0.0) * 1000,
        writes=len(stalls),
        note=note,
    )


SECTION = Section(
    name="schema_changes",
    order=40,
    title="表の変更: 素朴な形と安全な形 (schema changes under load)",
    panel="表の変更中の最大停止 (schema changes)",
    columns=(
        "backend",
        "size",
        "label",
        "seconds",
        "worst_stall_ms",
        "writes",
        "versions",
    ),
    measure=measure,
    chart=Chart("bars", "worst_stall_ms", "別の書き込みの最大停止 (ms)"),
    sizes=sizes,
)
