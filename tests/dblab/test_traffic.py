"""dblab.traffic: bounded, recorded, and it leaves nothing behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from dblab import migrate, revisions, servers
from dblab import sandbox as sandboxes
from dblab.checks.zero_downtime import seed_users
from dblab.sandbox import Sandbox
from dblab.traffic import OLD, Traffic, split_name

ROWS = 200


def traffic_threads() -> list[threading.Thread]:
    return [
        t for t in threading.enumerate() if t.name.startswith("dblab-traffic")
    ]


@pytest.fixture(scope="module")
def users_box(module_server) -> Iterator[Sandbox]:
    box = sandboxes.create("traffic", server=module_server, migrations=True)
    migrate.upgrade(box, to=revisions.HEAD)
    seed_users(box.engine, ROWS)
    yield box
    box.close()


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("佐藤 蓮", ("佐藤", "蓮")),
        ("佐藤\u3000蓮", ("佐藤", "蓮")),
        ("佐藤蓮", ("佐藤蓮", "")),
        ("佐藤   蓮", ("佐藤", "蓮")),
        ("\u3000佐藤\u3000 蓮 ", ("佐藤", "蓮")),
        ("山田 花子 ジュニア", ("山田", "花子 ジュニア")),
    ],
)
def test_split_rule(name: str, split: tuple[str, str]) -> None:
    assert split_name(name) == split


def test_seed_has_every_name_shape(users_box: Sandbox) -> None:
    with users_box.engine.connect() as connection:
        names = connection.execute(sa.text("SELECT name FROM users")).all()
    names = [n for (n,) in names]
    assert any("\u3000" in n for n in names)
    assert any(" " not in n and "\u3000" not in n for n in names)
    assert any("   " in n for n in names)
    assert any(n.count(" ") == 1 and "\u3000" not in n for n in names)


def test_stops_by_itself_at_the_deadline(users_box: Sandbox) -> None:
    traffic = Traffic(users_box.url, keys=ROWS, rate=50, deadline=0.5)
    traffic.deploy(OLD)
    for _ in range(50):
        if not traffic.running:
            break
        time.sleep(0.1)
    assert traffic.stopped_because == "deadline"
    traffic.stop()
    assert not traffic_threads()
    assert traffic.engine.pool.checkedout() == 0
    assert traffic.requests and {r.version for r in traffic.requests} == {OLD}
    assert all(r.error is None for r in traffic.requests)
    assert max(r.at for r in traffic.requests) < 1.0


def test_stops_at_the_request_count(users_box: Sandbox) -> None:
    with Traffic(users_box.url, keys=ROWS, rate=200, max_requests=5) as t:
        t.deploy(OLD)
        t.deploy("dual")
        t.wait(5)
        assert t.stopped_because == "max_requests"
    assert 5 <= len(t.requests) <= 6
    assert not traffic_threads()


def test_a_failing_step_stops_everything(users_box: Sandbox) -> None:
    with pytest.raises(RuntimeError), Traffic(users_box.url, keys=ROWS) as t:
        t.deploy(OLD)
        t.wait(0.2)
        raise RuntimeError("the migration step failed")
    assert t.stopped_because == "step failed", [
        r.error for r in t.requests if r.error
    ][:3]
    assert not traffic_threads()
    assert t.engine.pool.checkedout() == 0
    if users_box.backend == "postgresql":
        with users_box.engine.connect() as connection:
            left = connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = :db AND application_name = :app"
                ),
                {"db": users_box.name, "app": "dblab_traffic"},
            ).scalar_one()
        assert left == 0


def test_stops_when_the_database_is_unreachable() -> None:
    url = make_url("postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    traffic = Traffic(url, keys=10, rate=50, unreachable_after=0.3)
    traffic.deploy(OLD)
    traffic.wait(5)
    assert traffic.stopped_because == "unreachable"
    traffic.stop()
    assert not traffic_threads()
    assert traffic.requests and all(r.error for r in traffic.requests)


@pytest.mark.server
def test_stops_when_the_server_goes_away(module_account_server) -> None:
    if module_account_server.get_backend_name() != "postgresql":
        pytest.skip("MariaDB would need a server-wide setting: not shared")
    box = sandboxes.create("traffic_gone", server=module_account_server)
    admin = servers.admin_engine(module_account_server)
    try:
        migrate.upgrade(box, to=revisions.HEAD)
        seed_users(box.engine, ROWS)
        with Traffic(box.url, keys=ROWS, unreachable_after=0.3) as t:
            t.deploy(OLD)
            t.wait(0.3)
            _allow(admin, box, False)
            t.wait(10)
            assert t.stopped_because == "unreachable"
        assert not traffic_threads()
        assert any(r.error for r in t.requests)
    finally:
        _allow(admin, box, True)
        admin.dispose()
        box.close()


def _allow(admin: sa.Engine, box: Sandbox, allowed: bool) -> None:
    """Let connections to box's database in, or refuse them and end the
    traffic's live ones (PostgreSQL)."""
    with admin.connect() as connection:
        connection.execute(
            sa.text(f'ALTER DATABASE "{box.name}" ALLOW_CONNECTIONS {allowed}')
        )
        if not allowed:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND application_name = :app"
                ),
                {"db": box.name, "app": "dblab_traffic"},
            )
