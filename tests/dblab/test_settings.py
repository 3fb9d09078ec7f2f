"""dblab.settings: URLs from the environment, and one-line errors."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import URL

from dblab import settings
from dblab.errors import ServerUnreachable, SettingsError


def test_default_is_a_sqlite_file_in_the_work_folder(monkeypatch) -> None:
    monkeypatch.delenv("DBLAB_DATABASE_URL", raising=False)
    url = settings.database_url()
    assert url.get_backend_name() == "sqlite"
    assert url.database.startswith(str(settings.work_dir()))


def test_work_folder_is_found_from_the_package(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DBLAB_WORK_DIR", raising=False)
    assert settings.work_dir() == settings.ROOT / "work"
    assert (settings.ROOT / "migrations" / "env.py").exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("postgres//nohost", "形式が正しくありません"),
        ("postgresql+nosuchdriver://u@h/db", "使えません"),
        ("mssql+pymssql://u@h/db", "unsupported backend"),
        (
            "postgresql+psycopg://postgres@127.0.0.1:5432",
            "保守用データベース名",
        ),
    ],
)
def test_bad_url_gets_one_line_naming_the_variable(
    monkeypatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("DBLAB_DATABASE_URL", value)
    with pytest.raises(SettingsError) as caught:
        settings.database_url()
    message = str(caught.value)
    assert expected in message
    assert "DBLAB_DATABASE_URL" in message
    assert "例:" in message
    assert len(message.splitlines()) == 1
    assert caught.value.__cause__ is None


def test_server_urls_are_optional(monkeypatch) -> None:
    monkeypatch.delenv("DBLAB_POSTGRES_URL", raising=False)
    monkeypatch.setenv("DBLAB_MYSQL_URL", "  ")
    assert settings.postgres_url() is None
    assert settings.mysql_url() is None


def test_scale(monkeypatch) -> None:
    monkeypatch.setenv("DBLAB_SCALE", "test")
    assert settings.scaled(1_000_000, 1_000) == 1_000
    monkeypatch.setenv("DBLAB_SCALE", "full")
    assert settings.scaled(1_000_000, 1_000) == 1_000_000
    monkeypatch.delenv("DBLAB_SCALE")
    assert settings.scale() == "full"


@pytest.mark.parametrize(
    "url",
    [
        URL.create(
            "postgresql+psycopg", "postgres", None, "127.0.0.1", 9, "x"
        ),
        URL.create("mysql+pymysql", "root", None, "127.0.0.1", 9, "x"),
    ],
)
def test_unreachable_server_is_one_line_with_host_and_port(url: URL) -> None:
    with pytest.raises(ServerUnreachable) as caught:
        settings.check_reachable(url)
    message = str(caught.value)
    assert "127.0.0.1:9" in message
    assert "接続できません" in message
    assert len(message.splitlines()) == 1
    assert caught.value.__cause__ is None


def test_reachable_server_reports_its_version(server: URL) -> None:
    if server.get_backend_name() == "sqlite":
        server = URL.create("sqlite")
    version = settings.check_reachable(server)
    assert version[0].isdigit() or "PostgreSQL" in version


def test_url_without_an_installed_driver_names_the_fix(monkeypatch) -> None:
    monkeypatch.setenv("DBLAB_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
    with pytest.raises(SettingsError) as caught:
        settings.mysql_url()
    message = str(caught.value)
    assert "+pymysql" in message and "MySQLdb" in message
    assert len(message.splitlines()) == 1
