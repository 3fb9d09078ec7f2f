"""Learners sharing a server never meet: the instructor recipe, played.

Two learner roles per server are made by running the SQL of
``docs/instructor.md``'s shared-server section as written (with a login
and password unique to this run). Learner 1 opens a sandbox and a deploy
target; learner 2 tries to connect to, read, write and drop them, and
runs ``dblab reset``. The roles and everything they made are removed at
the end; names are random, so parallel workers never collide.
"""

from __future__ import annotations

import multiprocessing
import secrets
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from dblab import cli, migrate, reset, revisions, servers, settings, targets
from dblab import sandbox as sandboxes

SERVERS = ["postgresql", "mysql"]
SECTION = "## 共有の PostgreSQL / MySQL サーバーで授業する"
MARKERS = {"postgresql": "**PostgreSQL**", "mysql": "**MariaDB / MySQL**"}


def recipe(backend: str) -> list[str]:
    """The SQL statements of the recipe for ``backend``, as documented."""
    text = (settings.ROOT / "docs" / "instructor.md").read_text("utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    block = section[section.index(MARKERS[backend]) :]
    start = block.index("```sql\n") + len("```sql\n")
    sql = block[start : block.index("```", start)]
    return [line.strip() for line in sql.split(";") if line.strip()]


def run_as_admin(server: URL, statements: list[str]) -> None:
    """Run statements verbatim (a MariaDB grant pattern keeps its ``%``)."""
    engine = servers.admin_engine(server)
    try:
        with engine.connect() as connection:
            cursor = connection.connection.driver_connection.cursor()
            for statement in statements:
                cursor.execute(statement)
            cursor.close()
    finally:
        engine.dispose()


@dataclass
class Learner:
    login: str
    url: URL


def make_learner(server: URL) -> Learner:
    login = f"lrn{secrets.token_hex(4)}"
    password = secrets.token_hex(8)
    statements = [
        s.replace("learner01", login).replace("change-me-01", password)
        for s in recipe(server.get_backend_name())
    ]
    run_as_admin(server, statements)
    url = server.set(username=login, password=password, database=login)
    return Learner(login, url)


def remove_learner(server: URL, learner: Learner) -> None:
    for name in servers.databases(server):
        if name.startswith(servers.own_prefix(learner.url)):
            servers.drop_database(server, name)
    servers.drop_database(server, learner.login)
    if server.get_backend_name() == "postgresql":
        run_as_admin(server, [f'DROP ROLE IF EXISTS "{learner.login}"'])
    else:
        run_as_admin(server, [f"DROP USER IF EXISTS '{learner.login}'@'%'"])


@dataclass
class Room:
    server: URL
    first: Learner
    second: Learner
    sandbox: sandboxes.Sandbox
    target: targets.Target


@pytest.fixture(scope="module")
def room(module_account_server: URL) -> Iterator[Room]:
    """Two learners; learner 1 has an open sandbox and a dev target."""
    server = module_account_server
    first, second = make_learner(server), make_learner(server)
    box = None
    try:
        box = sandboxes.create("isolation", server=first.url)
        with box.engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE notes (id INTEGER)"))
            connection.execute(sa.text("INSERT INTO notes VALUES (1)"))
        where = targets.Targets(
            server=first.url, prefix=servers.target_prefix(first.url)
        )
        target = where.create("dev")
        yield Room(server, first, second, box, target)
        target.close()
    finally:
        if box is not None:
            box.close()
        remove_learner(server, first)
        remove_learner(server, second)


def _names(room: Room) -> list[str]:
    return [room.sandbox.name, room.target.url.database]


def test_names_carry_the_login(room: Room) -> None:
    assert room.sandbox.name.startswith(f"dblab_{room.first.login}_")
    assert room.target.url.database == (f"dblab_{room.first.login}_target_dev")


@pytest.mark.parametrize("which", [0, 1], ids=["sandbox", "target"])
def test_learner_2_cannot_connect(room: Room, which: int) -> None:
    name = _names(room)[which]
    engine = sa.create_engine(
        room.second.url.set(database=name), poolclass=sa.pool.NullPool
    )
    with pytest.raises(DBAPIError) as caught:
        with engine.connect():
            pass
    text = str(caught.value.orig).lower()
    assert "denied" in text or "permission" in text


@pytest.mark.parametrize("which", [0, 1], ids=["sandbox", "target"])
def test_learner_2_cannot_read_write_or_drop(room: Room, which: int) -> None:
    name = _names(room)[which]
    engine = servers.admin_engine(room.second.url)
    quote = "`" if room.server.get_backend_name() == "mysql" else '"'
    statements = [f"DROP DATABASE {quote}{name}{quote}"]
    if room.server.get_backend_name() == "mysql":  # one connection, any db
        statements += [
            f"SELECT * FROM `{name}`.notes",  # noqa: S608 (own names)
            f"INSERT INTO `{name}`.notes VALUES (2)",  # noqa: S608
            f"CREATE TABLE `{name}`.intruder (id INTEGER)",
        ]
    try:
        for statement in statements:
            with engine.connect() as connection:
                with pytest.raises(DBAPIError):
                    connection.exec_driver_sql(statement)
    finally:
        engine.dispose()
    assert servers.exists(room.server, name)
    with room.sandbox.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id FROM notes")).all()
    assert rows == [(1,)]


def test_learner_2_does_not_even_list_them_on_mariadb(room: Room) -> None:
    seen = servers.databases(room.second.url, droppable=False)
    if room.server.get_backend_name() == "mysql":
        assert not set(_names(room)) & set(seen)
    else:  # pg_database is readable by every role: names only
        assert set(_names(room)) <= set(seen)


def test_learner_2_reset_leaves_learner_1_alone(
    room: Room,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,
) -> None:
    for variable in reset.VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("DBLAB_WORK_DIR", str(tmp_path))
    own = sandboxes.create("mine", server=room.second.url)
    url = room.second.url.render_as_string(hide_password=False)
    try:
        assert cli.main(["reset", "--url", url]) == 0
        out = capsys.readouterr().out
        assert f"{own.name} を削除しました" in out
        assert room.sandbox.name not in out
        assert room.second.url.password not in out
        assert not servers.exists(room.server, own.name)
        for name in _names(room):
            assert servers.exists(room.server, name)
        if room.server.get_backend_name() == "postgresql":
            assert "ほかのアカウントのサンドボックス" in out
    finally:
        own.close()


def test_learner_1_uses_its_own_sandbox(room: Room) -> None:
    """The revoke from PUBLIC does not lock out the owner."""
    engine = sa.create_engine(room.sandbox.url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT 1")).scalar() == 1
    engine.dispose()


LEARNERS = 8
ROUNDS = 2


def _one_learner(url_text: str) -> list[str]:
    """Two rounds of what a notebook does: create, migrate, drop.

    One process per learner, as in a classroom (Alembic's ``context`` is
    one per process, so threads would share it).
    """
    url = sa.make_url(url_text)
    made = []
    for round_ in range(ROUNDS):
        box = sandboxes.create(f"stress{round_}", server=url, migrations=True)
        try:
            assert migrate.upgrade(box, "head") == (revisions.HEAD,)
            made.append(box.name)
        finally:
            box.close()
    return made


@pytest.mark.stress
@pytest.mark.server
@pytest.mark.parametrize("backend", SERVERS)
def test_eight_learners_at_once(server: URL) -> None:
    """Eight learners from the recipe, two sandboxes each, all at once."""
    learners = [make_learner(server) for _ in range(LEARNERS)]
    try:
        urls = [x.url.render_as_string(hide_password=False) for x in learners]
        fork = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(LEARNERS, mp_context=fork) as pool:
            made = list(pool.map(_one_learner, urls))
        assert sum(len(names) for names in made) == LEARNERS * ROUNDS
        for learner, names in zip(learners, made, strict=True):
            assert all(n.startswith(f"dblab_{learner.login}_") for n in names)
            assert not any(servers.exists(server, n) for n in names)
    finally:
        for learner in learners:
            remove_learner(server, learner)
