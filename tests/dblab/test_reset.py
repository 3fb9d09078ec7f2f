"""``dblab reset`` on SQLite, PostgreSQL and MariaDB.

Each test makes sandboxes with a purpose of its own and resets only that
purpose, so sandboxes of tests running at the same time are never
touched; the work folder is a temporary one.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from dblab import cli, reset, sandbox, servers


@pytest.fixture(autouse=True)
def work_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DBLAB_WORK_DIR", str(tmp_path))
    return tmp_path


def _no_configured_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """After ``server`` is resolved: only ``--url`` names a server."""
    for variable in reset.VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def _purpose() -> str:
    return f"resettest_{secrets.token_hex(3)}"


def _url_args(server: URL) -> list[str]:
    if server.get_backend_name() == "sqlite":
        return []
    return ["--url", server.render_as_string(hide_password=False)]


def _databases(server: URL, purpose: str | None = None) -> list[str]:
    if server.get_backend_name() == "sqlite":
        return []
    return reset.sandbox_databases(server, purpose)


def test_dry_run_lists_and_keeps_then_reset_drops(
    server: URL,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_configured_servers(monkeypatch)
    purpose, other = _purpose(), _purpose()
    boxes = [sandbox.create(purpose, server=server)]
    keep = sandbox.create(other, server=server)
    names = sorted(box.name for box in boxes)
    try:
        with boxes[0].engine.connect():
            pass  # a pooled connection must not stop the drop
        args = ["reset", *_url_args(server), "--purpose", purpose]

        assert cli.main([*args, "--dry-run"]) == 0
        shown = capsys.readouterr().out
        for name in names:
            assert shown.count(f"{name} を削除します (dry run)") == (
                1 if server.get_backend_name() == "sqlite" else 2
            )
        assert keep.name not in shown
        assert all(box.folder.exists() for box in boxes)
        if server.get_backend_name() != "sqlite":
            assert _databases(server, purpose) == names

        assert cli.main(args) == 0
        shown = capsys.readouterr().out
        assert all(f"{name} を削除しました" in shown for name in names)
        assert not any(box.folder.exists() for box in boxes)
        assert _databases(server, purpose) == []
        assert keep.folder.exists()
        if server.get_backend_name() != "sqlite":
            assert _databases(server, other) == [keep.name]

        assert cli.main(args) == 0
        assert (
            "残っているサンドボックスはありません" in capsys.readouterr().out
        )
    finally:
        for box in [*boxes, keep]:
            box.close()  # safe after reset: DROP ... IF EXISTS
    assert _databases(server, other) == []


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_maintenance_database_is_never_a_candidate(server: URL) -> None:
    with sandbox.create(_purpose(), server=server) as box:
        as_maintenance = server.set(database=box.name)
        assert box.name not in reset.sandbox_databases(as_maintenance)
        assert box.name in reset.sandbox_databases(server)
        with pytest.raises(ValueError, match="not a sandbox"):
            reset.drop_database(as_maintenance, box.name)
    with pytest.raises(ValueError, match="not a sandbox"):
        reset.drop_database(server, "postgres; DROP TABLE x")


def test_configured_servers_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    postgres = "postgresql+psycopg://u@db.example:5432/postgres"
    monkeypatch.setenv("DBLAB_DATABASE_URL", postgres)
    monkeypatch.setenv("DBLAB_POSTGRES_URL", postgres)
    monkeypatch.setenv("DBLAB_MYSQL_URL", "mysql+pymysql://r@db.example/t")
    found = [url.get_backend_name() for url in reset.configured_servers()]
    assert found == ["postgresql", "mysql"]  # duplicates counted once


def test_unreachable_server_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_configured_servers(monkeypatch)
    url = "postgresql+psycopg://nobody@127.0.0.1:1/postgres"
    assert cli.main(["reset", "--url", url, "--dry-run"]) == 1
    lines = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("[NG ]")
    ]
    assert len(lines) == 1
    assert "接続できません" in lines[0]


def test_purpose_filter_matches_the_sandbox_names() -> None:
    name = sandbox.sandbox_name("Split Exercise")
    assert reset.matches(name)
    assert reset.matches(name, "Split Exercise")
    assert not reset.matches(name, "split")
    assert reset.matches("dblab_split_exercise_0a1b2c3d", "split exercise")


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgres_learner_role_sees_only_its_own_sandboxes(
    server: URL,
) -> None:
    role = f"dblab_reset_{secrets.token_hex(3)}"
    admin = servers.admin_engine(server)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN CREATEDB')
    learner = server.set(username=role, password=None)
    try:
        with (
            sandbox.create(_purpose(), server=server) as theirs,
            sandbox.create(_purpose(), server=learner) as mine,
        ):
            seen = reset.sandbox_databases(learner)
            assert mine.name in seen
            assert theirs.name not in seen
            assert theirs.name in reset.sandbox_databases(server)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        admin.dispose()


def test_long_lived_targets_are_never_candidates() -> None:
    from dblab.reset import SANDBOX_NAME

    assert SANDBOX_NAME.match("dblab_start_here_0a1b2c3d")
    assert SANDBOX_NAME.match("dblab_0a1b2c3d_production")
    assert not SANDBOX_NAME.match("dblab_target_production")
    assert not SANDBOX_NAME.match("dblab_target_staging")
    assert SANDBOX_NAME.match("dblab_learner01_split_0a1b2c3d")
    assert not SANDBOX_NAME.match("dblab_learner01_target_production")
    assert not SANDBOX_NAME.match("dblab_notes")
