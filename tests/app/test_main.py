"""app.main: every route, every error answer, on all three backends.

Each test brings a sandbox to head with Alembic (the app never creates
tables itself) and drives the app through FastAPI's ``TestClient`` used as
a context manager, so the start-up check runs. After every request the
engine's pool must have no connection checked out: ``get_db`` closed the
session, also when the route answered with an error.
"""

from __future__ import annotations

import ast
import datetime
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import URL, Engine, event, func, select, text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app import database, main
from app.models import Address, Employee, User
from dblab import migrate, settings
from dblab import sandbox as sandboxes
from dblab.sandbox import Sandbox


class Api:
    """Calls the app and checks the status and the pool after each call."""

    def __init__(self, client: TestClient, engine: Engine) -> None:
        self.client = client
        self.engine = engine

    def __call__(
        self, method: str, url: str, expect: int = 200, **kwargs: Any
    ) -> Any:
        response = self.client.request(method, url, **kwargs)
        assert response.status_code == expect, response.text
        checked_out = self.engine.pool.checkedout()
        assert checked_out == 0, f"{method} {url}: {checked_out} connections"
        return response.json()


@contextmanager
def serve(sandbox: Sandbox) -> Iterator[Api]:
    """The app on ``sandbox``, started and, at the end, shut down."""
    try:
        with TestClient(main.create_app(sandbox.engine)) as client:
            yield Api(client, sandbox.engine)
    finally:
        # Should a session leak, free its connection: on MariaDB its open
        # transaction would block the sandbox's DROP DATABASE for ever.
        gc.collect()


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[Api]:
    migrate.upgrade(sandbox, "head")
    with serve(sandbox) as api:
        yield api


def users_table(sandbox: Sandbox) -> list[tuple[Any, ...]]:
    with sandbox.engine.connect() as connection:
        rows = connection.execute(
            select(User.__table__).order_by(User.__table__.c.id)
        )
        return [tuple(row) for row in rows]


def count(sandbox: Sandbox, model: type) -> int:
    with sandbox.engine.connect() as connection:
        query = select(func.count()).select_from(model)
        return connection.execute(query).scalar_one()


def test_every_route(api: Api, sandbox: Sandbox) -> None:
    ann = api("POST", "/users", 201, json={"name": "Ann", "email": "a@x.io"})
    assert ann == {
        "id": ann["id"],
        "name": "Ann",
        "email": "a@x.io",
        "age": None,
        "type": "user",
        "addresses": [],
    }
    bob = api(
        "POST",
        "/users",
        201,
        json={"name": "Bob", "email": "b@x.io", "age": 41},
    )
    assert bob["age"] == 41

    home = api(
        "POST",
        f"/users/{ann['id']}/addresses",
        201,
        json={"email_address": "ann@home.example"},
    )
    assert home == {"id": home["id"], "email_address": "ann@home.example"}
    api(
        "POST",
        f"/users/{ann['id']}/addresses",
        201,
        json={"email_address": "ann@work.example"},
    )

    one = api("GET", f"/users/{ann['id']}")
    assert [a["email_address"] for a in one["addresses"]] == [
        "ann@home.example",
        "ann@work.example",
    ]

    assert api("PATCH", f"/users/{ann['id']}", json={"age": 30})["age"] == 30
    assert api("GET", f"/users/{ann['id']}")["age"] == 30
    assert api("PATCH", f"/users/{bob['id']}", json={"age": None})["age"] is (
        None
    )

    with sandbox.session() as session:
        session.add(
            Employee(
                name="Eve",
                email="e@x.io",
                hire_date=datetime.date(2024, 4, 1),
                addresses=[Address(email_address="eve@office.example")],
            )
        )
        session.commit()

    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # noqa: ARG001
        statements.append(statement)

    event.listen(sandbox.engine, "before_cursor_execute", record)
    try:
        listing = api("GET", "/users")
    finally:
        event.remove(sandbox.engine, "before_cursor_execute", record)
    selects = [s for s in statements if s.lstrip().upper().startswith("SEL")]
    assert len(selects) == 2, selects  # users, then all their addresses
    assert [(u["name"], u["type"], u["age"]) for u in listing] == [
        ("Ann", "user", 30),
        ("Bob", "user", None),
        ("Eve", "employee", None),
    ]
    assert [len(u["addresses"]) for u in listing] == [2, 0, 1]

    employees = api("GET", "/employees")
    assert [(e["name"], e["hire_date"]) for e in employees] == [
        ("Eve", "2024-04-01")
    ]
    assert employees[0]["addresses"][0]["email_address"] == (
        "eve@office.example"
    )


def test_missing_rows_are_404(api: Api, sandbox: Sandbox) -> None:
    for method, url, body in [
        ("GET", "/users/999", None),
        ("PATCH", "/users/999", {"age": 3}),
        ("POST", "/users/999/addresses", {"email_address": "z@x.io"}),
    ]:
        answer = api(method, url, 404, json=body)
        assert answer["detail"] == (
            "ユーザー 999 は見つかりません (user not found)"
        )
    assert count(sandbox, Address) == 0


def test_duplicate_email_is_409_and_changes_nothing(
    api: Api, sandbox: Sandbox
) -> None:
    api("POST", "/users", 201, json={"name": "Ann", "email": "a@x.io"})
    before = users_table(sandbox)
    answer = api(
        "POST",
        "/users",
        409,
        json={"name": "Other", "email": "a@x.io", "age": 9},
    )
    assert answer["detail"] == (
        "メールアドレス a@x.io は既に登録されています "
        "(email already registered)"
    )
    assert users_table(sandbox) == before
    assert len(before) == 1
    # The app is still usable after the rollback.
    api("POST", "/users", 201, json={"name": "Bob", "email": "b@x.io"})
    assert count(sandbox, User) == 2


def test_bad_bodies_are_422(api: Api, sandbox: Sandbox) -> None:
    ann = api("POST", "/users", 201, json={"name": "Ann", "email": "a@x.io"})
    cases = [
        ("POST", "/users", {"name": "No email"}, "missing", "email"),
        ("POST", "/users", {"name": "A", "email": "no-at"}, None, "email"),
        (
            "POST",
            "/users",
            {"name": "A", "email": "b@x.io", "age": -1},
            "greater_than_equal",
            "age",
        ),
        (
            "POST",
            "/users",
            {"name": "", "email": "b@x.io"},
            "string_too_short",
            "name",
        ),
        (
            "POST",
            "/users",
            {"name": "A", "email": "b@x.io", "admin": True},
            "extra_forbidden",
            "admin",
        ),
        ("PATCH", f"/users/{ann['id']}", {}, "missing", "age"),
        ("PATCH", f"/users/{ann['id']}", {"age": "old"}, None, "age"),
        (
            "POST",
            f"/users/{ann['id']}/addresses",
            {"email_address": "x" * 120 + "@x.io"},
            "string_too_long",
            "email_address",
        ),
    ]
    for method, url, body, kind, field in cases:
        answer = api(method, url, 422, json=body)
        error = answer["detail"][0]
        assert error["loc"] == ["body", field], (body, error)
        if kind:
            assert error["type"] == kind, (body, error)
        assert error["msg"]

    answer = api(
        "POST",
        "/users",
        422,
        content="{not json",
        headers={"content-type": "application/json"},
    )
    assert answer["detail"][0]["type"] == "json_invalid"
    answer = api("GET", "/users/abc", 422)
    assert answer["detail"][0]["loc"] == ["path", "user_id"]

    assert count(sandbox, User) == 1
    assert count(sandbox, Address) == 0
    assert api("GET", f"/users/{ann['id']}")["age"] is None


def start(sandbox: Sandbox) -> str:
    """Start the app on ``sandbox``; return the start-up error message."""
    app = main.create_app(sandbox.engine)
    with pytest.raises(main.DatabaseNotMigrated) as caught:
        with TestClient(app):
            pass  # pragma: no cover -- the start-up must fail
    assert sandbox.engine.pool.checkedout() == 0
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_startup_refuses_a_database_not_at_head(sandbox: Sandbox) -> None:
    message = start(sandbox)
    assert "最新の revision になっていません" in message
    assert "現在 base" in message
    assert "`uv run alembic upgrade head`" in message

    first = migrate.heads(sandbox)[0]
    migrate.upgrade(sandbox, "cf30bc1d0ee8")
    message = start(sandbox)
    assert "現在 cf30bc1d0ee8" in message
    assert f"head は {first}" in message

    migrate.upgrade(sandbox, "head")
    with serve(sandbox) as api:
        assert api("GET", "/users") == []


@pytest.mark.parametrize("backend", ["sqlite"])
def test_startup_refuses_an_unknown_revision(sandbox: Sandbox) -> None:
    migrate.upgrade(sandbox, "head")
    with sandbox.engine.begin() as connection:
        connection.execute(
            text("UPDATE alembic_version SET version_num = '0123abcd4567'")
        )
    message = start(sandbox)
    assert "0123abcd4567" in message
    assert "unknown to this code" in message


def test_missing_migrations_folder(tmp_path) -> None:
    with pytest.raises(main.DatabaseNotMigrated, match="見つかりません"):
        main.check_migrated(database.engine, tmp_path / "nowhere")


def test_module_app_uses_the_kit_migrations_and_get_db() -> None:
    assert isinstance(main.app, FastAPI)
    assert main.MIGRATIONS == settings.MIGRATIONS
    assert not main.app.dependency_overrides
    paths = main.app.openapi()["paths"]
    assert {path: sorted(paths[path]) for path in paths} == {
        "/users": ["get", "post"],
        "/users/{user_id}": ["get", "patch"],
        "/users/{user_id}/addresses": ["post"],
        "/employees": ["get"],
    }


def test_session_factory_binds_the_engine() -> None:
    engine = database.make_engine("sqlite://")
    try:
        factory = database.session_factory(engine)
        with factory() as session:
            assert session.get_bind() is engine
            assert session.autoflush is False
    finally:
        engine.dispose()


def test_app_package_never_imports_dblab() -> None:
    for path in (settings.ROOT / "src" / "app").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "dblab" for n in names), path


def test_a_pool_of_one_serves_every_answer() -> None:
    """One connection, no overflow: every route and error path gives it
    back (else the next request would wait ``pool_timeout`` and fail);
    a ``get_db`` that never closes exhausts the same pool at once."""
    with sandboxes.create("app_pool", server=URL.create("sqlite")) as box:
        migrate.upgrade(box, "head")
        small = database.make_engine(
            box.url, pool_size=1, max_overflow=0, pool_timeout=0.2
        )
        body = {"name": "Ann", "email": "ann@example.com"}
        calls = [
            ("POST", "/users", body, 201),
            ("POST", "/users", body, 409),
            ("GET", "/users/9", None, 404),
            ("PATCH", "/users/1", {"age": -1}, 422),
            ("POST", "/users/1/addresses", {"email_address": "a@b.c"}, 201),
            ("GET", "/users", None, 200),
            ("GET", "/employees", None, 200),
        ]
        try:
            with TestClient(main.create_app(small)) as client:
                for round_ in (1, 2):
                    for method, path, json, status in calls:
                        if round_ == 2 and status == 201 and path == "/users":
                            status = 409  # Ann is registered by now
                        response = client.request(method, path, json=json)
                        assert response.status_code == status, (path, round_)
            leaked = []

            def leaky_get_db():
                db = database.session_factory(small)()
                leaked.append(db)
                yield db

            app = main.create_app(small)
            app.dependency_overrides[database.get_db] = leaky_get_db
            with TestClient(app) as client:
                assert client.get("/users/1").status_code == 200
                with pytest.raises(PoolTimeoutError, match="QueuePool"):
                    client.get("/users/1")
            for db in leaked:
                db.close()
            assert small.pool.checkedout() == 0
        finally:
            small.dispose()
