"""migrations/env.py: lock and statement timeouts per environment.

Offline SQL shows what each target sets; on the servers, a second
connection holding a lock on ``users`` plays the long transaction the
timeout is for: with ``target=production`` the upgrade gives up within
the bound instead of queueing every query behind its DDL.
"""

from __future__ import annotations

import io
from argparse import Namespace

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.util import CommandError

from dblab import migrate, revisions
from dblab.sandbox import Sandbox

PG = "postgresql+psycopg://u@127.0.0.1/db"
MARIADB = "mysql+pymysql://u@127.0.0.1/db"
RANGE = f"{revisions.USERS_CREATED}:{revisions.AGE_ADDED}"


def offline(url: str, *x: str) -> list[str]:
    """The lines of ``alembic -x ... upgrade RANGE --sql`` before BEGIN."""
    cfg = migrate.config(url=sa.make_url(url))
    cfg.cmd_opts = Namespace(x=list(x))
    cfg.output_buffer = buffer = io.StringIO()
    command.upgrade(cfg, RANGE, sql=True)
    return [line for line in buffer.getvalue().splitlines() if "SET " in line]


def sets(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith("UPDATE")]


@pytest.mark.parametrize("target", ["production", "staging"])
def test_production_and_staging_get_short_bounds(target: str) -> None:
    assert sets(offline(PG, f"target={target}")) == [
        "SET lock_timeout = '2000ms';",
        "SET statement_timeout = '60000ms';",
    ]
    assert sets(offline(MARIADB, f"target={target}")) == [
        "SET SESSION lock_wait_timeout = 2, innodb_lock_wait_timeout = 2, "
        "max_statement_time = 60;"
    ]


@pytest.mark.parametrize("x", [["target=dev"], []])
def test_dev_and_no_target_get_none(x: list[str], monkeypatch) -> None:
    monkeypatch.delenv("DBLAB_TARGET", raising=False)
    assert sets(offline(PG, *x)) == []
    assert sets(offline(MARIADB, *x)) == []
    assert sets(offline("sqlite:///x.db", "target=production")) == []


def test_bounds_are_configurable(monkeypatch) -> None:
    monkeypatch.setenv("DBLAB_TARGET", "production")
    monkeypatch.setenv("MIGRATION_STATEMENT_TIMEOUT", "0")
    assert sets(offline(PG, "lock_timeout=0.5")) == [
        "SET lock_timeout = '500ms';",
        "RESET statement_timeout;",
    ]
    # MariaDB counts lock waits in whole seconds, at least one.
    assert sets(offline(MARIADB, "lock_timeout=0.5")) == [
        "SET SESSION lock_wait_timeout = 1, innodb_lock_wait_timeout = 1, "
        "max_statement_time = DEFAULT;"
    ]
    monkeypatch.setenv("DBLAB_TARGET", "dev")
    assert sets(offline(PG, "lock_timeout=3")) == [
        "SET lock_timeout = '3000ms';",
        "RESET statement_timeout;",
    ]


@pytest.mark.parametrize("bad", ["soon", "-1", "inf", "nan"])
def test_a_bad_bound_is_one_clear_line(bad: str) -> None:
    with pytest.raises(CommandError, match="lock_timeout は 0 以上の秒数"):
        offline(PG, "target=production", f"lock_timeout={bad}")


def upgrade_with(box: Sandbox, to: str, *x: str) -> None:
    cfg = migrate.config(box)
    cfg.cmd_opts = Namespace(x=list(x))
    command.upgrade(cfg, to)


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_production_ddl_gives_up_behind_a_long_transaction(
    sandbox: Sandbox,
) -> None:
    """The adversary: a session sits in a transaction that read ``users``.
    The ALTER of the next revision must wait for it; with the production
    bound it fails after about a second and nothing is stamped."""
    migrate.upgrade(sandbox, revisions.USERS_CREATED)
    holder = sandbox.engine.connect()
    holder.execute(sa.text("SELECT count(*) FROM users")).scalar_one()
    try:
        with pytest.raises(sa.exc.OperationalError) as caught:
            upgrade_with(
                sandbox, revisions.AGE_ADDED, "target=production",
                "lock_timeout=1",
            )  # fmt: skip
        message = str(caught.value).lower()
        assert "lock" in message and (
            "timeout" in message or "1205" in message
        )
    finally:
        holder.rollback()
        holder.close()
    assert migrate.current(sandbox) == (revisions.USERS_CREATED,)
    migrate.upgrade(sandbox, revisions.AGE_ADDED)
    assert migrate.current(sandbox) == (revisions.AGE_ADDED,)


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_the_bounds_do_not_outlive_the_run(sandbox: Sandbox) -> None:
    """The pooled session env.py used goes back with the defaults."""
    upgrade_with(sandbox, revisions.AGE_ADDED, "target=production")
    assert migrate.current(sandbox) == (revisions.AGE_ADDED,)
    assert sandbox.engine.pool.checkedin() == 1  # the one env.py used
    show = {
        "postgresql": "SELECT current_setting('lock_timeout')",
        "mysql": "SELECT @@session.lock_wait_timeout"
        " = @@global.lock_wait_timeout",
    }[sandbox.backend]
    with sandbox.engine.connect() as connection:
        value = connection.execute(sa.text(show)).scalar_one()
    assert value in ("0", 1)
