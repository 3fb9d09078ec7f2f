"""dblab doctor: versions, servers, the work folder, the account."""

from __future__ import annotations

from dblab import cli


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
