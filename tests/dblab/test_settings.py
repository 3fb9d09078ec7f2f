"""dblab.settings: URLs from the environment, and one-line errors."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
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


PASSWORD = "Hunter2secret"  # noqa: S105 (a test value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f'"postgresql+psycopg://u:{PASSWORD}@h:5432/db"', "引用符"),
        (f"'mysql+pymysql://u:{PASSWORD}@h:3306/test'", "引用符"),
        (f"postgresql+psycopg://u:{PASSWORD}@x@127.0.0.1/db", "%40"),
        (f"mysql+pymysql://u:p@{PASSWORD}:x@127.0.0.1:3306/t", "%40"),
    ],
    ids=["double-quoted", "single-quoted", "at-sign", "at-sign-port"],
)
def test_bad_url_never_shows_the_password(value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings.parse_url(value, "DBLAB_DATABASE_URL")
    message = str(caught.value)
    assert expected in message
    assert PASSWORD not in message and "***" in message
    assert len(message.splitlines()) == 1


def test_mask_hides_every_password_in_a_text() -> None:
    text = f"a mysql://u:{PASSWORD}@h/x and postgresql://v:p@ss@h2/y"
    shown = settings.mask(text)
    assert PASSWORD not in shown and "p@ss" not in shown
    assert shown.count("***") == 2


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_silent_mariadb_listener_gives_up_within_five_seconds(
    silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.CONNECT_TIMEOUT <= settings.HANDSHAKE_TIMEOUT <= 5
    monkeypatch.setattr(settings, "HANDSHAKE_TIMEOUT", 1.0)  # quick test
    url = URL.create(
        "mysql+pymysql",
        username="root",
        password=PASSWORD,
        host="127.0.0.1",
        port=silent_port,
        database="test",
    )
    started = time.monotonic()
    with pytest.raises(ServerUnreachable) as caught:
        settings.check_reachable(url)
    assert time.monotonic() - started < 2.5
    message = str(caught.value)
    assert f"127.0.0.1:{silent_port}" in message
    assert PASSWORD not in message
    assert len(message.splitlines()) == 1


@pytest.mark.parametrize("backend", ["mysql"])
def test_handshake_timeout_does_not_cut_a_long_query(
    server: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The login-only read timeout is lifted: a query may outlast it."""
    monkeypatch.setattr(settings, "HANDSHAKE_TIMEOUT", 1.0)  # quick test
    engine = sa.create_engine(
        server, connect_args=settings.connect_args(server)
    )
    try:
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert raw._read_timeout is None  # noqa: SLF001
            seconds = settings.HANDSHAKE_TIMEOUT + 0.5
            connection.execute(sa.text(f"SELECT SLEEP({seconds})"))
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["mysql"])
def test_wrong_mariadb_password_is_one_line_without_it(server: URL) -> None:
    wrong = server.set(password=PASSWORD)
    with pytest.raises(ServerUnreachable) as caught:
        settings.check_reachable(wrong)
    message = str(caught.value)
    assert "denied" in message.lower()
    assert PASSWORD not in message
    assert len(message.splitlines()) == 1


def test_unwritable_work_folder_is_one_line(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("DBLAB_WORK_DIR", str(blocker / "work"))
    with pytest.raises(SettingsError, match="DBLAB_WORK_DIR") as caught:
        settings.work_dir()
    assert len(str(caught.value).splitlines()) == 1
