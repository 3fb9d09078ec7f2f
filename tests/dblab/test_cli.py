"""The dblab command: one line on stderr for a DblabError."""

from __future__ import annotations

import socket

import pytest

import dblab
from dblab import cli


def test_bad_database_url_is_one_line_from_the_command(monkeypatch, capsys):
    monkeypatch.setenv("DBLAB_DATABASE_URL", "nonsense//")
    from dblab import doctor

    monkeypatch.setattr(
        doctor, "report", lambda: dblab.settings.database_url()
    )
    assert cli.main(["doctor"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dblab doctor: DBLAB_DATABASE_URL")
    assert len(err.splitlines()) == 1


SECRET = "Hunter2secret"  # noqa: S105 (a test value)


@pytest.mark.parametrize("where", ["environment", "--url"])
def test_quoted_url_is_one_line_without_the_password(
    where: str, monkeypatch, capsys, tmp_path
) -> None:
    for variable in ("DBLAB_POSTGRES_URL", "DBLAB_MYSQL_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("DBLAB_WORK_DIR", str(tmp_path))
    (tmp_path / "sandboxes" / "dblab_x_keep_0a1b2c3d").mkdir(parents=True)
    quoted = f'"postgresql+psycopg://u:{SECRET}@127.0.0.1:5432/postgres"'
    args = ["reset"]
    if where == "environment":
        monkeypatch.setenv("DBLAB_DATABASE_URL", quoted)
    else:
        monkeypatch.delenv("DBLAB_DATABASE_URL", raising=False)
        args += ["--url", quoted]
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1
    assert "引用符" in captured.err
    assert SECRET not in captured.err + captured.out
    assert (tmp_path / "sandboxes" / "dblab_x_keep_0a1b2c3d").is_dir()


def test_silent_server_in_reset_is_one_line_without_the_password(
    monkeypatch, capsys, tmp_path
) -> None:
    from dblab import settings

    monkeypatch.setattr(settings, "HANDSHAKE_TIMEOUT", 1.0)  # quick test
    monkeypatch.setenv("DBLAB_WORK_DIR", str(tmp_path))
    for variable in ("DBLAB_POSTGRES_URL", "DBLAB_MYSQL_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("DBLAB_DATABASE_URL", raising=False)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    url = f"mysql+pymysql://root:{SECRET}@127.0.0.1:{port}/test"
    try:
        assert cli.main(["reset", "--url", url]) == 1
    finally:
        listener.close()
    captured = capsys.readouterr()
    problems = [
        line for line in captured.out.splitlines() if line.startswith("[NG ]")
    ]
    assert len(problems) == 1 and f"127.0.0.1:{port}" in problems[0]
    assert captured.err == ""
    assert SECRET not in captured.out
