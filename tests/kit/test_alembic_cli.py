"""``alembic`` on the command line: bad input is one line, nothing changed.

A learner types ``uv run alembic upgrade head``; what they see when the
server is down, the password is wrong, the URL has an unescaped ``@``, a
revision file does not parse, or the database records a revision this
code does not have. Each case: a non-zero exit, one line on stderr
(Alembic echoes it once more on stdout as ``FAILED: ...``), no
traceback, no password, and nothing changed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from dblab import migrate, revisions, settings
from dblab.sandbox import Sandbox


def alembic(
    *args: str, url: str, ini: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DB_", "DBLAB_TARGET"))
    }
    env["DATABASE_URL"] = url
    ini = ini or settings.ROOT / "alembic.ini"
    return subprocess.run(  # noqa: S603 - our own interpreter and args
        [sys.executable, "-m", "alembic", "-c", str(ini), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one error line a failed run wrote to stderr.

    Besides Alembic's INFO lines, stderr has exactly one line (Alembic's
    ``ERROR`` log line) and stdout at most its ``FAILED:`` echo.
    """
    assert done.returncode != 0

    def said(text: str) -> list[str]:
        lines = text.strip().splitlines()
        return [line for line in lines if not line.startswith("INFO  [")]

    errors, echoed = said(done.stderr), said(done.stdout)
    assert len(errors) == 1, errors
    assert len(echoed) <= 1 and all(e.startswith("FAILED:") for e in echoed)
    assert "Traceback" not in errors[0]
    return errors[0] + " " + " ".join(echoed)


def test_server_down_is_one_line() -> None:
    line = one_line(
        alembic(
            "upgrade",
            "head",
            url="postgresql+psycopg://learner:s3cret@127.0.0.1:9/dblab",
        )
    )
    assert "接続できません" in line and "cannot connect" in line
    assert "s3cret" not in line


@pytest.mark.server
@pytest.mark.parametrize("backend", ["mysql"])
def test_wrong_password_is_one_line_without_it(server) -> None:
    wrong = "not-the-password"
    url = server.set(password=wrong, database="test")
    line = one_line(
        alembic("upgrade", "head", url=url.render_as_string(False))
    )
    assert "Access denied" in line
    assert wrong not in line


def test_unescaped_at_in_the_password_is_one_line() -> None:
    line = one_line(
        alembic(
            "upgrade",
            "head",
            url="mysql+pymysql://learner:p@ss@127.0.0.1:3306/test",
        )
    )
    assert "@" in line and "%40" in line
    assert "p@ss" not in line


@pytest.mark.parametrize("backend", ["sqlite"])  # files, not the database
def test_a_revision_that_does_not_parse_is_one_line(
    sandbox: Sandbox, alembic_ini
) -> None:
    broken = sandbox.migrations / "versions" / "2024_09_01_0000-badc0de_x.py"
    broken.write_text("revision = 'badc0de'\ndef upgrade(:\n")
    url = sandbox.url.render_as_string(hide_password=False)
    line = one_line(
        alembic("upgrade", "head", url=url, ini=alembic_ini(sandbox))
    )
    assert "badc0de_x.py:2" in line
    assert (
        "alembic_version" not in sa.inspect(sandbox.engine).get_table_names()
    )


@pytest.mark.parametrize("backend", ["sqlite"])  # one row on every database
def test_an_unknown_revision_says_a_fix_that_works(
    sandbox: Sandbox, alembic_ini
) -> None:
    migrate.upgrade(sandbox, to=revisions.AGE_ADDED)
    with sandbox.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE alembic_version SET version_num = 'deadbeef0000'")
        )
    url = sandbox.url.render_as_string(hide_password=False)
    ini = alembic_ini(sandbox)
    line = one_line(alembic("upgrade", "head", url=url, ini=ini))
    assert "deadbeef0000" in line
    assert migrate.current(sandbox) == ("deadbeef0000",)  # nothing changed

    fix = line.split("`")[1].replace("<revision>", revisions.AGE_ADDED)
    assert fix == f"alembic stamp --purge {revisions.AGE_ADDED}"
    done = alembic(*fix.split()[1:], url=url, ini=ini)
    assert done.returncode == 0, done.stdout + done.stderr
    assert migrate.current(sandbox) == (revisions.AGE_ADDED,)
    done = alembic("upgrade", "head", url=url, ini=ini)
    assert done.returncode == 0, done.stdout + done.stderr
    assert migrate.current(sandbox) == (revisions.HEAD,)
