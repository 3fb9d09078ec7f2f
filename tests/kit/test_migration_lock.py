"""``migrations/env.py`` lets one runner migrate at a time.

Two and four ``alembic upgrade head`` processes start together on one
populated database whose next revision begins with DML (on MariaDB the
DDL after it commits implicitly): the chain is applied once, every run
exits 0 (the late ones find nothing to do) or says one clear line, and
nothing prints a traceback. Also: a runner that cannot get the lock in
its wait bound says so in one line; what env.py accepts as a connection.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.util import CommandError

from dblab import migrate, revisions, seed
from dblab import sandbox as sandboxes
from dblab.sandbox import Sandbox

BUMP = "0c0c0c000001"
NOTE = "0c0c0c000002"


@pytest.fixture
def populated(server, add_revision, alembic_ini) -> Iterator[Sandbox]:
    """The app at head with users (age 0), then a DML + DDL revision."""
    with sandboxes.create("lock", server=server, migrations=True) as box:
        migrate.upgrade(box, "head")
        seed.users(box.engine, 2000, progress=False)
        with box.engine.begin() as connection:
            connection.execute(sa.text("UPDATE users SET age = 0"))
        add_revision(
            box,
            """
            op.execute("UPDATE users SET age = age + 1")
            op.add_column("users", sa.Column("note", sa.String(20)))
            """,
            BUMP,
            down=revisions.HEAD,
        )
        add_revision(
            box,
            'op.create_index("ix_users_note", "users", ["note"])',
            NOTE,
            down=BUMP,
        )
        alembic_ini(box)
        box.engine.dispose()
        yield box


def start_runners(box: Sandbox, count: int, **env: str):
    environ = {
        **os.environ,
        "DATABASE_URL": box.url.render_as_string(hide_password=False),
        **env,
    }
    environ.pop("DBLAB_TARGET", None)
    ini = box.folder / "alembic.ini"  # written by the populated fixture
    argv = [sys.executable, "-m", "alembic", "-c", str(ini)]
    return [
        subprocess.Popen(  # noqa: S603 (our own interpreter)
            [*argv, "upgrade", "head"],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


def finished(runners) -> list[tuple[int, str]]:
    done = []
    for runner in runners:
        _, err = runner.communicate(timeout=60)
        done.append((runner.returncode, err))
    return done


@pytest.mark.parametrize(
    "count", [2, pytest.param(4, marks=pytest.mark.stress)]
)
def test_concurrent_upgrades_apply_the_chain_once(populated, count) -> None:
    results = finished(start_runners(populated, count))
    print(  # the figures of the closing note (pytest -s)
        f"MEASURE upgrade x{count} {populated.backend}: exit codes "
        f"{[code for code, _ in results]}"
    )
    for code, err in results:
        assert "Traceback" not in err, err
        if code != 0:
            failures = [line for line in err.splitlines() if "FAILED" in line]
            assert len(failures) == 1, err
    assert any(code == 0 for code, _ in results), results
    assert migrate.current(populated) == (NOTE,)
    with populated.engine.connect() as connection:
        ages = connection.execute(
            sa.text("SELECT DISTINCT age FROM users")
        ).scalars()
        assert sorted(ages) == [1]  # the DML ran exactly once


@pytest.mark.stress
def test_a_held_lock_is_one_line_after_the_wait(
    populated, tmp_path, add_revision
) -> None:
    """A runner that cannot get the lock within its bound says so.

    The holder's revision waits for the test to let it go (not a fixed
    sleep), so the late runner meets the lock however slow it starts.
    """
    started, release = tmp_path / "started", tmp_path / "release"
    add_revision(
        populated,
        """
        import os, pathlib, time
        marker = os.environ.get("DBLAB_TEST_SLOW_REVISION")
        if marker:
            pathlib.Path(marker, "started").touch()
            deadline = time.monotonic() + 60
            while not pathlib.Path(marker, "release").exists():
                assert time.monotonic() < deadline, "never released"
                time.sleep(0.05)
        """,
        "0c0c0c000003",
        down=NOTE,
    )
    holder = start_runners(
        populated, 1, DBLAB_TEST_SLOW_REVISION=str(tmp_path)
    )
    deadline = time.monotonic() + 30
    while not started.exists():
        assert time.monotonic() < deadline, "the holder never started"
        assert holder[0].poll() is None, holder[0].communicate()
        time.sleep(0.05)
    late = start_runners(populated, 1, MIGRATION_LOCK_WAIT="0.5")
    try:
        ((code, err),) = finished(late)
    finally:
        release.touch()
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "another migration holds the lock" in lines[0]
    ((code, err),) = finished(holder)
    assert code == 0, err
    assert migrate.current(populated) == ("0c0c0c000003",)


class Harness:
    """What some test harnesses hand env.py: connect() as a manager."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def connect(self):
        return self.engine.connect()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_env_py_takes_engine_connection_or_connect(sandbox) -> None:
    cfg = migrate.config(sandbox)
    cfg.attributes["connection"] = Harness(sandbox.engine)
    command.upgrade(cfg, revisions.USERS_CREATED)
    with sandbox.engine.connect() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revisions.AGE_ADDED)
        connection.commit()
    cfg.attributes["connection"] = sandbox.engine
    command.upgrade(cfg, "head")
    assert migrate.current(sandbox) == (revisions.HEAD,)
    for wrong in ("sqlite:///x.db", object()):
        cfg.attributes["connection"] = wrong
        with pytest.raises(CommandError) as caught:
            command.downgrade(cfg, "base")
        message = str(caught.value)
        assert len(message.splitlines()) == 1
        assert type(wrong).__name__ in message
    assert migrate.current(sandbox) == (revisions.HEAD,)


def test_revisions_still_commit_one_by_one(sandbox, add_revision) -> None:
    """Taking the lock must not wrap the whole run in one transaction."""
    from dblab.errors import MigrationError

    migrate.upgrade(sandbox, "head")
    add_revision(
        sandbox,
        'op.add_column("users", sa.Column("note", sa.String(20)))',
        BUMP,
        down=revisions.HEAD,
    )
    add_revision(
        sandbox, 'raise RuntimeError("second fails")', NOTE, down=BUMP
    )
    with pytest.raises(MigrationError, match="second fails"):
        migrate.upgrade(sandbox, "head")
    assert migrate.current(sandbox) == (BUMP,)  # the first one stayed
