"""dblab doctor: versions, servers, the work folder, the account."""

from __future__ import annotations

import secrets

import pytest

from dblab import cli, doctor, servers


def test_doctor_reports_and_exits(monkeypatch, capsys) -> None:
    monkeypatch.setenv("DBLAB_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:9/x")
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "[NG ] MySQL/MariaDB" in out and "127.0.0.1:9" in out
    monkeypatch.delenv("DBLAB_MYSQL_URL")
    monkeypatch.delenv("DBLAB_POSTGRES_URL", raising=False)
    monkeypatch.delenv("DBLAB_DATABASE_URL", raising=False)
    assert cli.main(["doctor"]) == 0
    assert "Mermaid" in capsys.readouterr().out


def test_grant_patterns_follow_mariadb_like_rules() -> None:
    own = r"dblab\_learner01\_%"
    assert doctor._like(own, "dblab_learner01_split_0a1b2c3d")
    assert not doctor._like(own, "dblab_learner02_split_0a1b2c3d")
    assert not doctor._like(own, "dblabxlearner01_split")  # \_ is literal
    assert doctor._like(r"dblab\_%", "dblab_learner02_split_0a1b2c3d")
    assert doctor._like("dblab_%", "dblabXanything")  # _ is any character


def test_leftovers_of_older_kits_name_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("DBLAB_WORK_DIR", str(tmp_path))
    assert doctor.leftovers(None).ok
    (tmp_path / "sandboxes" / "dblab_split_0a1b2c3d").mkdir(parents=True)
    (tmp_path / "targets" / "dblab_target").mkdir(parents=True)
    found = doctor.leftovers(None)
    assert not found.ok and not found.needed
    assert "uv run dblab reset" in found.detail
    assert "1 件" in found.detail and "dblab_target" in found.detail


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_account_check_on_recipe_and_broad_grants(server) -> None:
    """The admin is told it is one; a learner from the recipe is OK; the
    old recipe's broad MariaDB grant is flagged (needed=False)."""
    assert "管理者" in doctor.account(server).detail
    login = f"lrn{secrets.token_hex(4)}"
    engine = servers.admin_engine(server)
    mysql = server.get_backend_name() == "mysql"
    statements = (
        [
            f"CREATE USER '{login}'@'%'",
            f"GRANT ALL ON `dblab\\_{login}\\_%`.* TO '{login}'@'%'",
        ]
        if mysql
        else [f'CREATE ROLE "{login}" LOGIN CREATEDB']
    )
    learner = server.set(username=login, password=None)
    if mysql:  # no privilege on the admin's maintenance database
        learner = servers.maintenance_url(learner)
    try:
        with engine.connect() as connection:
            cursor = connection.connection.driver_connection.cursor()
            for statement in statements:
                cursor.execute(statement)
            found = doctor.account(learner)
            assert found.ok, found
            if mysql:
                cursor.execute(
                    f"GRANT ALL PRIVILEGES ON `dblab\\_%`.* TO '{login}'@'%'"
                )
                found = doctor.account(learner)
                assert not found.ok and not found.needed
                assert "broad" in found.detail
            else:
                cursor.execute(f'ALTER ROLE "{login}" NOCREATEDB')
                found = doctor.account(learner)
                assert not found.ok and found.needed
                assert "CREATEDB" in found.detail
    finally:
        with engine.connect() as connection:
            cursor = connection.connection.driver_connection.cursor()
            cursor.execute(
                f"DROP USER IF EXISTS '{login}'@'%'"
                if mysql
                else f'DROP ROLE IF EXISTS "{login}"'
            )
        engine.dispose()
