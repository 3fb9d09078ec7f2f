"""Checkers of notebook 04: the solutions pass, wrong answers do not."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from urllib.parse import quote_plus

import pytest
from fastapi import APIRouter, HTTPException
from sqlalchemy import URL, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.main import Db
from app.models import Address, User
from dblab import sandbox
from dblab.checks import fastapi_database as checks

PARTS = checks.URL_PARTS


def good_url() -> URL:
    return URL.create(**PARTS)


def test_url_solution_passes() -> None:
    result = checks.url_parts(good_url())
    assert result.ok, result
    rendered = good_url().render_as_string(hide_password=False)
    assert checks.url_parts(rendered).ok


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            "mysql+mysqlconnector://shop_app:p@ss/w:rd#1"
            "@db.example.internal:3306/shop",
            "URL.create",
        ),
        (str(URL.create(**PARTS)), "***"),
        (URL.create(**{**PARTS, "drivername": "mysql+pymysql"}), "drivername"),
        (
            f"mysql+mysqlconnector://shop_app:{quote_plus('p@ss/w:rd')}"
            "@db.example.internal:3306/shop",
            "password",
        ),
        (..., "まだ解答がありません"),
    ],
)
def test_url_wrong_answers(answer, expected) -> None:
    result = checks.url_parts(answer)
    assert not result.ok
    assert expected in str(result)
    assert result.section == checks.SECTION_URL


@pytest.fixture
def box() -> Iterator[sandbox.Sandbox]:
    box = checks.prepare()
    yield box
    gc.collect()
    box.close()


def test_prepare_seeds_three_users(box) -> None:
    with box.session() as session:
        counts = [len(u.addresses) for u in session.scalars(select(User))]
    assert counts == [2, 0, 3]


def factory(box) -> sessionmaker[Session]:
    return sessionmaker(bind=box.engine, autoflush=False)


def test_get_db_solutions_pass(box) -> None:
    session_local = factory(box)

    def get_db():
        db = session_local()
        try:
            yield db
        finally:
            db.close()

    def get_db_with():
        with session_local() as db:
            yield db

    def commits_on_success_only():
        db = session_local()
        try:
            yield db
            db.commit()
        except Exception:
            db.rollback()
            raise
        finally:
            db.close()

    for answer in (get_db, get_db_with, commits_on_success_only):
        result = checks.closes_sessions(answer, box.engine)
        assert result.ok, result
    assert box.engine.pool.checkedout() == 0


def test_get_db_wrong_answers(box) -> None:
    session_local = factory(box)

    def no_finally():
        db = session_local()
        yield db
        db.close()

    def returns():
        return session_local()

    def closes_on_error_only():
        db = session_local()
        try:
            yield db
        except Exception:
            db.close()
            raise

    def never_closes():
        yield session_local()

    def commits_in_finally():
        """The anti-pattern: a failed request's half-done work is saved."""
        db = session_local()
        try:
            yield db
        finally:
            db.commit()
            db.close()

    def commits_after_yield_swallowing():
        with session_local() as db:
            try:
                yield db
            except Exception:
                db.commit()
                raise

    def stub(): ...

    other = sandbox.create("fastapi_other")
    try:

        def other_engine():
            with Session(other.engine) as db:
                yield db

        cases = [
            (no_finally, "例外で終わった"),
            (returns, "return"),
            (closes_on_error_only, "成功した"),
            (never_closes, "TimeoutError"),
            (commits_in_finally, "finally で commit"),
            (commits_after_yield_swallowing, "commit されました"),
            (stub, "まだ解答がありません"),
            (other_engine, "演習のエンジン"),
        ]
        for answer, expected in cases:
            result = checks.closes_sessions(answer, box.engine)
            assert not result.ok, answer.__name__
            assert expected in result.message, (answer.__name__, result)
            assert result.section == checks.SECTION_SESSION
            assert box.engine.pool.checkedout() == 0, answer.__name__
            with box.engine.connect() as connection:
                emails = connection.scalars(select(User.email)).all()
            assert not [e for e in emails if "probe" in e], answer
    finally:
        other.close()


def count_router(count, *, missing_404: bool = True) -> APIRouter:
    router = APIRouter()

    @router.get(checks.COUNT_PATH)
    def address_count(user_id: int, db: Db):
        if missing_404 and db.get(User, user_id) is None:
            raise HTTPException(404, detail=f"user {user_id} not found")
        return {"user_id": user_id, "count": count(db, user_id)}

    return router


def per_user(db: Session, user_id: int) -> int:
    query = select(func.count()).where(Address.user_id == user_id)
    return db.scalar(query.select_from(Address))


def test_route_solution_passes(box) -> None:
    result = checks.address_count_route(count_router(per_user), box)
    assert result.ok, result
    assert "404" in str(result)


def test_route_wrong_answers(box) -> None:
    def every_address(db: Session, user_id: int) -> int:  # noqa: ARG001
        return db.scalar(select(func.count()).select_from(Address))

    stub = APIRouter()

    @stub.get(checks.COUNT_PATH)
    def address_count(user_id: int, db: Db):
        pass

    wrong_path = APIRouter()
    wrong_path.get("/users/{user_id}/count")(address_count)

    cases = [
        (count_router(every_address), "利用者"),
        (count_router(per_user, missing_404=False), "存在しない利用者"),
        (stub, "まだ解答がありません"),
        (wrong_path, "ルートが見つかりません"),
        ("not a router", "APIRouter"),
    ]
    for answer, expected in cases:
        result = checks.address_count_route(answer, box)
        assert not result.ok, answer
        assert expected in result.message, result
        assert result.section == checks.SECTION_ROUTES
