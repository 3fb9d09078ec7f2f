"""Checkers for notebook 04 (FastAPI database connection).

1. ``url_parts``: a URL built with ``URL.create`` whose password holds
   ``@``, ``/`` and ``:`` parses back to the same parts.
2. ``closes_sessions``: a ``get_db`` dependency, mounted in a small app,
   leaves no connection checked out and no session open -- after a route
   that succeeds, one that answers 404 and one that crashes.
3. ``address_count_route``: a router with
   ``GET /users/{user_id}/addresses/count``, called through ``TestClient``
   on the prepared sandbox: the right count per user, 404 when missing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient
from sqlalchemy import URL, Engine, make_url
from sqlalchemy.orm import Session

from app.models import Address, User
from dblab import migrate, sandbox
from dblab.checks import Result, checker, failed, not_done, passed

NOTEBOOK = "04_fastapi_database"
SECTION_URL = f"{NOTEBOOK}「接続情報: 環境変数と URL.create」"
SECTION_SESSION = f"{NOTEBOOK}「セッションファクトリと get_db」"
SECTION_ROUTES = f"{NOTEBOOK}「TestClient でルートを呼ぶ」"

URL_PARTS = {
    "drivername": "mysql+mysqlconnector",
    "username": "shop_app",
    "password": "p@ss/w:rd#1",
    "host": "db.example.internal",
    "port": 3306,
    "database": "shop",
}
"""Exercise 1: the parts the learner's URL must carry."""

PROBE_DOMAIN = "@probe.invalid"
"""The probe routes' half-done users: their e-mail ends with this."""

COUNT_PATH = "/users/{user_id}/addresses/count"
PEOPLE = {
    "Ann": ["ann@home.example", "ann@work.example"],
    "Bob": [],
    "Cy": ["cy@home.example", "cy@work.example", "cy@old.example"],
}


def prepare() -> sandbox.Sandbox:
    """A sandbox at head with Ann (2 addresses), Bob (0) and Cy (3)."""
    box = sandbox.create("fastapi_exercise")
    migrate.upgrade(box, "head")
    with box.session() as session:
        for name, addresses in PEOPLE.items():
            session.add(
                User(
                    name=name,
                    email=f"{name.lower()}@example.com",
                    addresses=[Address(email_address=a) for a in addresses],
                )
            )
        session.commit()
    return box


@checker(SECTION_URL)
def url_parts(url: URL | str) -> Result:
    """Exercise 1: the URL keeps every part, the password included."""
    if isinstance(url, URL):
        text = url.render_as_string(hide_password=False)
    else:
        text = str(url)
    if "***" in text:
        return failed(
            "パスワードが *** に置き換わっています。str(url) はパスワードを"
            "隠します (masked)。URL オブジェクトをそのまま渡すか、"
            "url.render_as_string(hide_password=False) を使ってください。",
            SECTION_URL,
        )
    try:
        parsed = make_url(text)
        parts = {
            "drivername": parsed.drivername,
            "username": parsed.username,
            "password": parsed.password,
            "host": parsed.host,
            "port": parsed.port,
            "database": parsed.database,
        }
    except (ValueError, sa.exc.ArgumentError) as error:
        return failed(
            f"URL として読めません (cannot parse): {error}。"
            "f-string で組み立てず URL.create を使ってください。",
            SECTION_URL,
        )
    wrong = [k for k, v in URL_PARTS.items() if parts[k] != v]
    if not wrong:
        return passed(
            "URL を読み直しても、すべての部分が元どおりです。",
            f"文字列では: {text}",
            f"パスワード {parsed.password!r} は %XX に escape されています。",
        )
    details = [
        f"{k}: 期待 {URL_PARTS[k]!r}、読み直すと {parts[k]!r}" for k in wrong
    ]
    if "host" in wrong or "password" in wrong:
        return failed(
            "URL を読み直すとパスワードやホストが変わってしまいます。"
            "パスワードの @ / : が区切り文字と解釈されています。"
            "URL.create に部分ごとに渡してください。",
            SECTION_URL,
            *details,
        )
    return failed(
        f"{', '.join(wrong)} が課題の値と違います。", SECTION_URL, *details
    )


def _probe_rows(engine: Engine, *, remove: bool = False) -> int:
    """How many probe users were committed (``remove``: delete them)."""
    probes = User.__table__.c.email.like(f"%{PROBE_DOMAIN}")
    with engine.begin() as connection:
        if remove:
            connection.execute(sa.delete(User.__table__).where(probes))
            return 0
        query = sa.select(sa.func.count()).select_from(User).where(probes)
        return connection.execute(query).scalar_one()


def _probe_app(get_db: Callable[..., Any], opened: list[Session]) -> FastAPI:
    app = FastAPI()
    db_dependency = Depends(get_db)

    def count(db: Session) -> int:
        opened.append(db)
        query = sa.select(sa.func.count()).select_from(User)
        return db.execute(query).scalar_one()

    @app.get("/ok")
    def ok(db: Session = db_dependency) -> dict[str, int]:
        return {"users": count(db)}

    def half_done(db: Session, path: str) -> None:
        """Work the failing request leaves unfinished: never committed."""
        count(db)
        db.add(User(name="probe", email=f"{path}{PROBE_DOMAIN}"))
        db.flush()

    @app.get("/missing")
    def missing(db: Session = db_dependency) -> None:
        half_done(db, "missing")
        raise HTTPException(404, detail="not found")

    @app.get("/crash")
    def crash(db: Session = db_dependency) -> None:
        half_done(db, "crash")
        raise RuntimeError("the route crashed")

    return app


@checker(SECTION_SESSION)
def closes_sessions(get_db: Callable[..., Any], engine: Engine) -> Result:
    """Exercise 2: sessions from ``get_db`` are closed after every request."""
    if not inspect.isgeneratorfunction(get_db):
        made = get_db()
        if made is None:
            return not_done(SECTION_SESSION)
        if isinstance(made, Session):
            made.close()
        return failed(
            "get_db がセッションを return しています。return では FastAPI が"
            "後片付けをする機会がなく、セッションは閉じられません。"
            "yield で渡し、その後 (finally) で close してください。",
            SECTION_SESSION,
        )
    opened: list[Session] = []
    app = _probe_app(get_db, opened)
    expected = {"/ok": 200, "/missing": 404, "/crash": 500}
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            for path, status in expected.items():
                response = client.get(path)
                if not opened or opened[-1] is None:
                    return not_done(SECTION_SESSION)
                session = opened[-1]
                if session.get_bind() is not engine:
                    return failed(
                        "get_db のセッションが演習のエンジンにつながって"
                        "いません。SessionLocal() を使ってください。",
                        SECTION_SESSION,
                    )
                if response.status_code != status:
                    return failed(
                        f"GET {path} の答えが {response.status_code} でした"
                        f" (期待 {status})。get_db が例外を握りつぶして"
                        "いないか確かめてください。",
                        SECTION_SESSION,
                    )
                leaked = engine.pool.checkedout()
                if leaked or session.in_transaction():
                    kind = "成功した" if status == 200 else "例外で終わった"
                    return failed(
                        f"{kind}リクエスト (GET {path} → {status}) の後、"
                        f"セッションが閉じられていません (接続 {leaked} 本が"
                        "貸し出されたまま)。これが続くとプールが尽き、次の"
                        "リクエストは pool_timeout 秒待って TimeoutError に"
                        "なります。close() を finally に置くか、"
                        "with SessionLocal() as db: yield db にしてください。",
                        SECTION_SESSION,
                    )
                if status != 200 and _probe_rows(engine):
                    return failed(
                        f"失敗したリクエスト (GET {path} → {status}) の"
                        "途中までの変更が commit されました。finally で "
                        "commit すると、例外で終わったリクエストの書きかけも"
                        "保存されます。finally では close だけにし、commit は"
                        "ルートの中 (または yield の後、例外がないとき) で"
                        "行ってください。",
                        SECTION_SESSION,
                    )
    finally:
        for session in opened:
            if isinstance(session, Session):
                session.close()
        _probe_rows(engine, remove=True)
    return passed(
        "成功・404・500 のどのリクエストの後も、セッションは閉じられ、"
        "接続はプールに戻っていました (checkedout() == 0)。"
    )


@checker(SECTION_ROUTES)
def address_count_route(router: APIRouter, box: sandbox.Sandbox) -> Result:
    """Exercise 3: the address count of each user, 404 for a missing one."""
    from app.main import create_app

    if not isinstance(router, APIRouter):
        return failed(
            "APIRouter を渡してください (router = APIRouter())。",
            SECTION_ROUTES,
        )
    with box.engine.connect() as connection:
        query = (
            sa.select(User.id, sa.func.count(Address.id))
            .outerjoin(Address, Address.user_id == User.id)
            .group_by(User.id)
            .order_by(User.id)
        )
        truth = {user_id: n for user_id, n in connection.execute(query)}
    if len(set(truth.values())) < 2:
        return failed(
            "演習のサンドボックスの利用者のメールアドレスの数がすべて同じです。"
            "prepare() で作り直してから試してください。",
            SECTION_ROUTES,
        )
    missing = max(truth) + 100
    app = create_app(box.engine)
    app.include_router(router)
    answers: dict[int, tuple[int, Any]] = {}
    with TestClient(app, raise_server_exceptions=False) as client:
        for user_id in [*truth, missing]:
            response = client.get(COUNT_PATH.format(user_id=user_id))
            try:
                body = response.json()
            except ValueError:
                body = response.text
            answers[user_id] = (response.status_code, body)
            if box.engine.pool.checkedout():
                return failed(
                    f"GET {COUNT_PATH.format(user_id=user_id)} の後、"
                    "接続が返されていません。セッションは get_db (Db) から"
                    "受け取ってください。",
                    SECTION_ROUTES,
                )
    if all(status == 404 for status, _ in answers.values()) and all(
        body == {"detail": "Not Found"} for _, body in answers.values()
    ):
        return failed(
            f"{COUNT_PATH} というルートが見つかりません。"
            "@router.get のパスを確かめてください。",
            SECTION_ROUTES,
        )
    if all(answers[u] == (200, None) for u in truth):
        return not_done(SECTION_ROUTES)
    for user_id, n in truth.items():
        status, body = answers[user_id]
        want = {"user_id": user_id, "count": n}
        if status != 200 or body != want:
            return failed(
                f"利用者 {user_id} の答えが違います: {status} {body!r}"
                f" (期待 200 {want!r})。その利用者のアドレス"
                " (addresses の行) だけを数えていますか。",
                SECTION_ROUTES,
            )
    status, body = answers[missing]
    if status != 404:
        return failed(
            f"存在しない利用者 {missing} に {status} {body!r} が返りました。"
            "利用者がいなければ HTTPException(404) を raise してください。",
            SECTION_ROUTES,
        )
    return passed(
        "どの利用者にも正しい数が返り、存在しない利用者には 404 でした。",
        *(f"利用者 {u}: {n} 件" for u, n in truth.items()),
        f"利用者 {missing}: 404 {body!r}",
    )
