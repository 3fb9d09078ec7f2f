"""The example app: users and their addresses over HTTP (FastAPI).

``create_app(engine)`` builds the app on an engine (default: the one of
``app.database``, from ``DATABASE_URL`` or ``DB_*``); ``app`` is the
instance ``uvicorn app.main:app`` serves. Every route gets its session
from the ``get_db`` dependency, which closes it after the request --
also when the route fails.

The tables come from the Alembic migrations, never from ``create_all``.
At start-up the app compares the database's ``alembic_version`` with the
heads of ``migrations/`` and refuses to start, naming the command to run,
when they differ, instead of failing on the first query.

Answers: 404 for a missing user, 409 for an email that is already
registered (the transaction is rolled back, the database is unchanged),
and FastAPI's usual 422 for a body that does not validate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Depends, FastAPI, HTTPException, status
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app import database
from app.models import Address, Employee, User
from app.schemas import (
    AddressCreate,
    AddressRead,
    EmployeeRead,
    UserCreate,
    UserRead,
    UserUpdate,
)

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
UPGRADE_COMMAND = "uv run alembic upgrade head"


class DatabaseNotMigrated(RuntimeError):
    """The database is not at the head of the app's migrations."""


def check_migrated(engine: Engine, migrations: Path = MIGRATIONS) -> None:
    """Raise :class:`DatabaseNotMigrated` unless the database is at head."""
    if not migrations.is_dir():
        raise DatabaseNotMigrated(
            f"migrations フォルダ {migrations} が見つかりません "
            "(migrations folder not found)。"
            "リポジトリの中からアプリを起動してください。"
        )
    script = ScriptDirectory(str(migrations))
    heads = set(script.get_heads())
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        current = set(context.get_current_heads())
    if current == heads:
        return
    now = ", ".join(sorted(current)) or "base (空のデータベース)"
    known = {revision.revision for revision in script.walk_revisions()}
    if current - known:
        raise DatabaseNotMigrated(
            f"データベースの revision {now} はこのアプリの migrations/ に"
            "ありません (database revision unknown to this code)。"
            "アプリのコードを、データベースに適用済みの revision を含む"
            "版に更新してください。"
        )
    raise DatabaseNotMigrated(
        "データベースが最新の revision になっていません "
        f"(database not migrated to head): 現在 {now}、"
        f"head は {', '.join(sorted(heads))}。"
        f"`{UPGRADE_COMMAND}` を実行してから起動してください。"
    )


def sessions_on(engine: Engine) -> Callable[[], Iterator[Session]]:
    """A ``get_db`` for another engine: one session per request, closed."""
    factory = database.session_factory(engine)

    def get_db() -> Iterator[Session]:
        db = factory()
        try:
            yield db
        finally:
            db.close()

    return get_db


Db = Annotated[Session, Depends(database.get_db)]
router = APIRouter()


def not_found(user_id: int) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND,
        detail=f"ユーザー {user_id} は見つかりません (user not found)",
    )


def load_user(db: Session, user_id: int) -> User:
    """The user with their addresses, or a 404 answer."""
    user = db.get(User, user_id, options=[selectinload(User.addresses)])
    if user is None:
        raise not_found(user_id)
    return user


@router.post(
    "/users", response_model=UserRead, status_code=status.HTTP_201_CREATED
)
def create_user(body: UserCreate, db: Db) -> User:
    """Register a user; 409 if the email is taken."""
    user = User(**body.model_dump())
    db.add(user)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=(
                f"メールアドレス {body.email} は既に登録されています "
                "(email already registered)"
            ),
        ) from None
    return load_user(db, user.id)


@router.get("/users", response_model=list[UserRead])
def list_users(db: Db) -> Sequence[User]:
    """Every user with their addresses, in two queries (no N+1)."""
    query = select(User).options(selectinload(User.addresses))
    return db.scalars(query.order_by(User.id)).all()


@router.get("/users/{user_id}", response_model=UserRead)
def read_user(user_id: int, db: Db) -> User:
    """One user with their addresses."""
    return load_user(db, user_id)


@router.patch("/users/{user_id}", response_model=UserRead)
def update_age(user_id: int, body: UserUpdate, db: Db) -> User:
    """Set (or clear, with ``null``) the user's age."""
    user = load_user(db, user_id)
    user.age = body.age
    db.commit()
    return load_user(db, user_id)


@router.post(
    "/users/{user_id}/addresses",
    response_model=AddressRead,
    status_code=status.HTTP_201_CREATED,
)
def add_address(user_id: int, body: AddressCreate, db: Db) -> Address:
    """Add an address to the user."""
    user = load_user(db, user_id)
    address = Address(email_address=body.email_address, user_id=user.id)
    db.add(address)
    db.commit()
    return address


@router.get("/employees", response_model=list[EmployeeRead])
def list_employees(db: Db) -> Sequence[Employee]:
    """Employees only: the ``users`` rows joined with ``employees``."""
    query = select(Employee).options(selectinload(Employee.addresses))
    return db.scalars(query.order_by(Employee.id)).all()


def create_app(
    engine: Engine | None = None, *, migrations: Path = MIGRATIONS
) -> FastAPI:
    """The app on ``engine`` (default: ``app.database.engine``).

    ``migrations`` is the folder whose head the database must be at
    (default: the kit's ``migrations/``).
    """
    bind = database.engine if engine is None else engine

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        check_migrated(bind, migrations)
        yield

    app = FastAPI(title="dblab example app", lifespan=lifespan)
    app.include_router(router)
    if engine is not None:
        app.dependency_overrides[database.get_db] = sessions_on(engine)
    return app


app = create_app()
