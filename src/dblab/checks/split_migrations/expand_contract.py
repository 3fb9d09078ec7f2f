"""Exercise 2 of notebook 06: rename ``users.age`` to ``age_years`` as
expand → migrate → contract, on rows where some ages are NULL.

The checker copies the learner's three revisions into a fresh sandbox
with data, upgrades one revision at a time and checks after each what
that step may change (expand: only a new nullable column, the old one
kept for the running app; migrate: data only, NULL copied as NULL;
contract: the old column gone, every age kept), then downgrades one at
a time (the contract's downgrade must bring the ages back) and upgrades
once more. The learner's sandbox is never migrated.
"""

from __future__ import annotations

import shutil

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from dblab import migrate, sandbox, schema, settings
from dblab.checks import Result, checker, failed, passed, server_of
from dblab.checks.split_migrations.not_null import (
    START,
    keep_only,
    read_chain,
    seed_users,
)
from dblab.errors import MigrationError

SECTION_RENAME = (
    "06_split_migrations「列名の変更: expand → migrate → contract」"
)
OLD, NEW = "age", "age_years"
STEPS = ("expand", "migrate", "contract")


def seed_ages(engine: Engine, count: int) -> int:
    """Users as in exercise 1, one age in four NULL; the NULL ages."""
    seed_users(engine, count)
    users = sa.table("users", sa.column("id"), sa.column(OLD))
    with engine.begin() as connection:
        connection.execute(
            users.update().where(users.c.id % 4 == 0).values({OLD: None})
        )
    return count // 4


def prepare_rename(server: URL | None = None) -> sandbox.Sandbox:
    """Exercise 2's start: ``users`` at AGE_ADDED, some ages NULL."""
    box = sandbox.create("split_rename", server=server, migrations=True)
    keep_only(box.migrations / "versions")
    migrate.upgrade(box, "head")
    seed_ages(box.engine, settings.scaled(1000, 200))
    return box


def _columns(engine: Engine) -> dict[str, dict]:
    columns = sa.inspect(engine).get_columns("users")
    return {column["name"]: column for column in columns}


def _values(engine: Engine, name: str) -> dict[int, object]:
    users = sa.table("users", sa.column("id"), sa.column(name))
    with engine.connect() as connection:
        query = sa.select(users.c.id, users.c[name])
        return dict(connection.execute(query).all())


def _others(engine: Engine) -> dict[int, tuple]:
    users = sa.table(
        "users", sa.column("id"), sa.column("name"), sa.column("email")
    )
    with engine.connect() as connection:
        rows = connection.execute(sa.select(users)).all()
    return {row.id: (row.name, row.email) for row in rows}


def _fail(message: str) -> Result:
    return failed(message, SECTION_RENAME)


@checker(SECTION_RENAME)
def expand_contract(exercise: sandbox.Sandbox) -> Result:
    """``age`` → ``age_years`` in three revisions that go up and down."""
    chain = read_chain(exercise.migrations / "versions", SECTION_RENAME)
    if isinstance(chain, Result):
        return chain
    if len(chain) == 1:
        return _fail(
            f"{chain[0][0]} の 1 つの revision で改名しています。その "
            "revision を流した瞬間に、まだ動いている古いアプリが age を"
            "読めなくなります (one revision doing expand and contract)。"
            "expand → migrate → contract の 3 つに分けてください。"
        )
    if len(chain) != 3:
        return _fail(
            f"revision が {len(chain)} つあります。expand (列の追加)、"
            "migrate (値の写し)、contract (古い列の削除) の 3 つに、"
            "1 つずつ分けてください (one step per revision)。"
        )
    with sandbox.create(
        "split_rename_check", server=server_of(exercise), migrations=True
    ) as box:
        versions = box.migrations / "versions"
        keep_only(versions)
        migrate.upgrade(box, START)
        seed_ages(box.engine, settings.scaled(200, 60))
        for name, _ in chain:
            shutil.copy(exercise.migrations / "versions" / name, versions)
        return _run(box, chain)


def _up(box: sandbox.Sandbox, name: str, revision: str) -> str | None:
    try:
        migrate.upgrade(box, revision)
    except MigrationError as error:
        why = str(error)
        lower = why.lower()
        if ("null" in lower or "data truncated" in lower) and NEW in why:
            why = (
                f"{NEW} を NOT NULL にしようとしました。age が NULL の利用者"
                f"がいるので、{NEW} も NULL を許したままにします。"
            )
        return f"{name} の upgrade が失敗しました (upgrade failed): {why}"
    return None


def _check_expand(box, name, ages) -> str | None:
    columns = _columns(box.engine)
    if OLD not in columns:
        return (
            f"expand ({name}) で {OLD} を消しています。古いアプリはまだ "
            f"{OLD} を読み書きしています (contract too early)。"
        )
    if NEW not in columns:
        return f"expand ({name}) で {NEW} 列を追加してください。"
    if not columns[NEW]["nullable"]:
        return (
            f"expand ({name}) の {NEW} が NOT NULL です。古いアプリは {NEW} "
            "に書かないので、NULL 可で追加します。"
        )
    if _values(box.engine, OLD) != ages:
        return f"expand ({name}) で {OLD} の値が変わりました。"
    return None


def _check_migrate(box, name, ages, shape) -> str | None:
    columns = _columns(box.engine)
    got = _values(box.engine, NEW) if NEW in columns else {}
    if OLD not in columns:
        lost = sum(1 for i, age in ages.items() if got.get(i) != age)
        if lost:
            return (
                f"{name} で {OLD} を消した時点で、{lost} 行の値が {NEW} に "
                "写されていません (contract before backfill)。"
            )
    changed = schema.diff(shape, schema.snapshot(box.engine)).changes
    if changed:
        return (
            f"migrate ({name}) は値だけを写す revision です。スキーマも"
            f"変えています: {'; '.join(changed)}"
        )
    filled = [
        i for i, age in ages.items() if age is None and got[i] is not None
    ]
    if filled:
        return (
            f"{OLD} が NULL の行の {NEW} に {got[filled[0]]!r} が入りました "
            f"({len(filled)} 行、例 id={filled[0]})。NULL は NULL のまま"
            "写してください (backfill of NULL rows)。"
        )
    wrong = [i for i, age in ages.items() if age is not None and got[i] != age]
    if wrong:
        return (
            f"{NEW} が {OLD} と違う行が {len(wrong)} 行あります (例 id="
            f"{wrong[0]}: {got[wrong[0]]!r})。すべての行を写してください。"
        )
    return None


def _check_contract(box, name, ages, others) -> str | None:
    columns = _columns(box.engine)
    if OLD in columns:
        return f"contract ({name}) の後も {OLD} 列が残っています。"
    if not isinstance(columns[NEW]["type"], sa.Integer):
        return f"{NEW} の型が {columns[NEW]['type']} です。INTEGER のままに。"
    if _values(box.engine, NEW) != ages:
        return f"contract ({name}) の後、{NEW} の値が {OLD} と違います。"
    if _others(box.engine) != others:
        return f"contract ({name}) で name / email の値が変わりました。"
    return None


def _run(box: sandbox.Sandbox, chain: list[tuple[str, str]]) -> Result:
    """Up one revision at a time with a check each, down, up again."""
    ages, others = _values(box.engine, OLD), _others(box.engine)
    start = schema.snapshot(box.engine)
    (first, r1), (second, r2), (third, r3) = chain
    problem = _up(box, first, r1) or _check_expand(box, first, ages)
    if problem:
        return _fail(problem)
    shape = schema.snapshot(box.engine)
    problem = _up(box, second, r2) or _check_migrate(box, second, ages, shape)
    if problem:
        return _fail(problem)
    problem = _up(box, third, r3) or _check_contract(box, third, ages, others)
    if problem:
        return _fail(problem)
    for name, parent in [(third, r2), (second, r1), (first, START)]:
        try:
            migrate.downgrade(box, parent)
        except MigrationError as error:
            return _fail(f"{name} の downgrade が失敗しました: {error}")
        columns = _columns(box.engine)
        if OLD not in columns or _values(box.engine, OLD) != ages:
            return _fail(
                f"{name} の downgrade の後、{OLD} の値が元に戻りません "
                "(a downgrade that loses data)。列を作り直すだけでなく、"
                f"{NEW} から値を写し戻してください。"
            )
    left = schema.diff(start, schema.snapshot(box.engine)).changes
    if left or _others(box.engine) != others:
        return _fail(
            "すべて downgrade した後、始めの状態と違います (left over): "
            f"{'; '.join(left) or 'name / email の値'}"
        )
    problem = _up(box, third, r3)
    if problem or _values(box.engine, NEW) != ages:
        return _fail(problem or "もう一度 upgrade すると値が違います。")
    nulls = sum(1 for age in ages.values() if age is None)
    return passed(
        " → ".join(
            f"{step} ({name})"
            for step, (name, _) in zip(STEPS, chain, strict=True)
        )
        + ": "
        "1 つずつ upgrade / downgrade / upgrade して、年齢は 1 つも"
        "失われませんでした。",
        f"{len(ages)} 行 (うち age が NULL の {nulls} 行は NULL のまま)、"
        f"expand の間も古いアプリの {OLD} は読めました。",
    )
