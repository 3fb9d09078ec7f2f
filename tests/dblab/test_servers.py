"""dblab.servers: names, CREATE/DROP DATABASE, exists, listing, emptying."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from dblab import servers


@pytest.mark.parametrize(
    ("user", "login"),
    [
        ("learner01", "learner01"),
        ("Learner.01@Room-B", "learner01roomb"),
        ("学習者", "xe5ada6e7bf92e88085"[:20]),
        ("a" * 40, "a" * 20),
    ],
)
def test_login_is_lowercase_alphanumeric(user: str, login: str) -> None:
    url = URL.create("postgresql", username=user, database="x")
    assert servers.login(url) == login
    assert servers.own_prefix(url) == f"dblab_{login}_"


def test_hex_escaped_logins_stay_apart() -> None:
    first = URL.create("mysql", username="学習者", database="x")
    second = URL.create("mysql", username="先生", database="x")
    assert servers.login(first) != servers.login(second)


def test_names_fit_postgresql_and_keep_their_parts() -> None:
    url = URL.create("postgresql", username="l" * 40, database="x")
    name = servers.sandbox_name("a very long purpose " * 5, url)
    assert len(name) <= servers.MAX_NAME
    assert name.startswith(f"dblab_{'l' * 20}_a_very_long_purpose")
    assert name.rsplit("_", 1)[1].isalnum() and len(name.rsplit("_")[-1]) == 8
    assert servers.sandbox_name("!!!", url).split("_")[2] == "sandbox"
    assert servers.target_prefix(url) == f"dblab_{'l' * 20}_target"


def test_maintenance_url() -> None:
    pg = URL.create("postgresql+psycopg", host="h", database="app")
    assert servers.maintenance_url(pg).database == "postgres"
    my = URL.create("mysql+pymysql", host="h", database="app")
    assert servers.maintenance_url(my).database is None


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_create_exists_list_drop(server: URL) -> None:
    name = servers.sandbox_name("servers_test", server)
    assert not servers.exists(server, name)
    servers.create_database(server, name)
    try:
        assert servers.exists(server, name)
        assert name in servers.databases(server)
        assert server.database not in servers.databases(server)
    finally:
        servers.drop_database(server, name)
    assert not servers.exists(server, name)
    servers.drop_database(server, name)  # a second drop is harmless


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgres_database_is_closed_to_public(server: URL) -> None:
    name = servers.sandbox_name("servers_acl", server)
    servers.create_database(server, name)
    try:
        engine = servers.admin_engine(server)
        with engine.connect() as connection:
            public = connection.execute(
                sa.text(
                    "SELECT has_database_privilege('public', :n, 'CONNECT'),"
                    " has_database_privilege('public', :n, 'TEMPORARY')"
                ),
                {"n": name},
            ).one()
        engine.dispose()
        assert tuple(public) == (False, False)
    finally:
        servers.drop_database(server, name)


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_drop_database_with_a_lingering_connection(server: URL) -> None:
    name = servers.sandbox_name("servers_linger", server)
    servers.create_database(server, name)
    engine = sa.create_engine(server.set(database=name))
    connection = engine.connect()
    try:
        servers.drop_database(server, name)
        assert not servers.exists(server, name)
    finally:
        connection.invalidate()
        engine.dispose()


@pytest.mark.server
@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_admin_accounts_are_recognised(server: URL) -> None:
    assert servers.is_admin(server)  # the test servers' root / postgres


def test_drop_tables_empties_a_database(sandbox) -> None:
    with sandbox.engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE a_parent (id INTEGER PRIMARY KEY)")
        )
        connection.execute(
            sa.text(
                "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id "
                "INTEGER REFERENCES a_parent (id))"
            )
        )
        connection.execute(sa.text("INSERT INTO a_parent VALUES (1)"))
        connection.execute(sa.text("INSERT INTO child VALUES (1, 1)"))
    servers.drop_tables(sandbox.engine)
    assert sa.inspect(sandbox.engine).get_table_names() == []
    servers.drop_tables(sandbox.engine)  # nothing left: no error
