"""Exercise 1 of notebook 05: a revision that adds ``users.status``
(``String(20)``, NOT NULL, server default ``'active'``), and a downgrade
that removes it -- nothing lost, nothing left over, nothing else
changed, and SQL that MariaDB would accept."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from dblab import migrate, sandbox, schema
from dblab.checks import Result, checker, failed, passed
from dblab.checks.alembic_first_steps.trial import (
    MARIADB,
    column_of,
    kit_head,
    offline_sql,
    on_trial,
    user_rows,
    users_table,
    values_of,
)
from dblab.errors import MigrationError

SECTION = "05_alembic_first_steps「カラム追加のパターン」"
COLUMN = "status"
LENGTH = 20
DEFAULT = "active"


NO_LENGTH = (
    f"users.{COLUMN} が長さのない文字列 (sa.String()) です。SQLite は通し"
    "ますが、MariaDB / MySQL は長さのない VARCHAR を作れず、この revision "
    f"はそこで失敗します (VARCHAR requires a length)。sa.String({LENGTH})"
    " と書いてください。"
)


def _type_problem(column: dict) -> str | None:
    """What is wrong with the type of ``users.status``, if anything."""
    kind = column["type"]
    if not isinstance(kind, sa.String) or isinstance(kind, sa.Text):
        return (
            f"users.{COLUMN} の型が {kind} です。課題は sa.String({LENGTH})"
            " (VARCHAR) です。"
        )
    if kind.length is None:
        return NO_LENGTH
    if kind.length != LENGTH:
        return (
            f"users.{COLUMN} の長さが {kind.length} です。課題は "
            f"sa.String({LENGTH}) です。"
        )
    return None


def _after_upgrade(engine: sa.Engine, before: list[tuple]) -> str | None:
    """What is wrong with ``users`` after the upgrade, if anything."""
    column = column_of(engine, COLUMN)
    if column is None:
        return f"upgrade の後に users.{COLUMN} 列がありません。"
    now = [{k: row.get(k) for k in before[0]} for row in user_rows(engine)]
    if now != before:
        return "upgrade で既存の行が変わったか、失われました (rows lost)。"
    problem = _type_problem(column)
    if problem:
        return problem
    if column["nullable"]:
        return (
            f"users.{COLUMN} が NULL を許しています。nullable=False に"
            "してください。"
        )
    if column.get("default") is None:
        return (
            f"users.{COLUMN} に server default (データベース側の既定値) が"
            f"ありません。server_default={DEFAULT!r} を付けてください。"
        )
    wrong = sorted(
        {repr(v) for v in values_of(engine, COLUMN).values()} - {repr(DEFAULT)}
    )
    if wrong:
        return (
            f"既存の行の {COLUMN} が {DEFAULT!r} になっていません "
            f"({', '.join(wrong)})。server_default={DEFAULT!r} にして"
            "ください。"
        )
    users = users_table()
    status = sa.table("users", sa.column(COLUMN), sa.column("id"))
    with engine.connect() as connection:
        transaction = connection.begin()
        new_id = connection.scalar(sa.select(sa.func.max(users.c.id))) + 1
        connection.execute(
            sa.insert(users).values(
                id=new_id, name="new", email="new@example.com"
            )
        )
        value = connection.scalar(
            sa.select(status.c[COLUMN]).where(status.c.id == new_id)
        )
        transaction.rollback()
    if value != DEFAULT:
        return (
            f"{COLUMN} を指定せずに追加した行の値が {value!r} です。"
            f"server_default={DEFAULT!r} にしてください。"
        )
    return None


@checker(SECTION)
def status_column(box: sandbox.Sandbox) -> Result:
    """The learner's revision adds ``users.status`` and takes it away."""
    return on_trial(box, _status_trial)


def _status_trial(trial: sandbox.Sandbox, path: Path) -> Result:
    """Up, check, down, check, up again -- on a sandbox with data."""
    head = kit_head()
    before, shape = user_rows(trial.engine), schema.snapshot(trial.engine)
    where = f"({path.name}, {len(before)} 行の users で実行)"
    _, why = offline_sql(trial, f"{head}:head", MARIADB)
    if why:
        said = NO_LENGTH if "requires a length" in why else why
        return failed(f"MariaDB 向けの SQL が作れません: {said}", SECTION)
    try:
        migrate.upgrade(trial, "head")
    except MigrationError as error:
        return failed(f"upgrade が失敗しました {where}: {error}", SECTION)
    problem = _after_upgrade(trial.engine, before)
    if problem:
        return failed(f"{problem} {where}", SECTION)
    up = schema.snapshot(trial.engine)
    other = [
        line
        for line in schema.diff(shape, up).changes
        if not line.startswith(f"+ 列 users.{COLUMN} ")
    ]
    if other:
        return failed(
            f"この revision は {COLUMN} の追加のほかにも変えています "
            f"(one change per revision): {'; '.join(other)} {where}。",
            SECTION,
        )
    try:
        now = migrate.downgrade(trial, "-1")
    except MigrationError as error:
        return failed(f"downgrade が失敗しました {where}: {error}", SECTION)
    if now != (head,):
        return failed(f"downgrade -1 の後の revision が {now} です。", SECTION)
    if column_of(trial.engine, COLUMN) is not None:
        return failed(
            f"downgrade の後も users.{COLUMN} 列が残っています。downgrade() "
            f"で列を削除してください {where}。",
            SECTION,
        )
    left = schema.diff(shape, schema.snapshot(trial.engine)).changes
    if left:
        return failed(
            "downgrade の後、upgrade の前と形が違います (left over): "
            f"{'; '.join(left)} {where}。",
            SECTION,
        )
    after = user_rows(trial.engine)
    if after != before:
        return failed(
            f"downgrade で users の行が失われたか変わりました: {len(before)} "
            f"行 → {len(after)} 行 (rows lost) {where}。",
            SECTION,
        )
    try:
        migrate.upgrade(trial, "head")
    except MigrationError as error:
        return failed(
            f"downgrade の後、もう一度 upgrade すると失敗しました {where}: "
            f"{error}",
            SECTION,
        )
    return passed(
        f"{path.name}: upgrade → downgrade → upgrade が通りました。",
        f"{len(before)} 行の users に {COLUMN} = {DEFAULT!r} "
        f"(VARCHAR({LENGTH}) NOT NULL) が入り、downgrade で列だけが消えて"
        "行はそのまま残りました。MariaDB 向けの SQL も作れます。",
    )
