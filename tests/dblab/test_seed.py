"""The seeder: right counts, same rows for the same seed, NULL e-mails
as asked, only the columns a revision has -- on every backend."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import Address, Employee, User
from dblab import migrate, seed
from dblab import sandbox as sandboxes
from dblab.errors import DblabError

NULLABLE_EMAIL = "71cc828891fc"  # users(id, name, email NULL, age)
FIRST = "fc269420a215"  # users(id, name, email NULL)


def _users(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                sa.text("SELECT * FROM users ORDER BY id")
            )
        ]


def test_rows_repeat_for_a_seed_and_nulls_are_exact() -> None:
    count = seed.CHUNK * 2 + 345  # several chunks, a ragged last one
    rows = [r for c in seed.user_rows(count, with_null_emails=0.37) for r in c]
    again = [
        r for c in seed.user_rows(count, with_null_emails=0.37) for r in c
    ]
    other = [r for c in seed.user_rows(count, seed=1) for r in c]
    assert rows == again
    assert [r[1] for r in rows] != [r[1] for r in other]
    assert [r[0] for r in rows] == list(range(1, count + 1))
    assert sum(r[2] is None for r in rows) == round(count * 0.37)
    emails = [r[2] for r in rows if r[2] is not None]
    assert len(set(emails)) == len(emails)
    assert all(18 <= r[3] <= 80 for r in rows)


def test_head_schema(sandbox: sandboxes.Sandbox) -> None:
    with pytest.raises(DblabError, match="upgrade"):
        seed.users(sandbox.engine, 10)  # no tables yet
    migrate.upgrade(sandbox, "head")
    with pytest.raises(DblabError, match="NOT NULL"):
        seed.users(sandbox.engine, 10, with_null_emails=0.2)
    with pytest.raises(DblabError, match="0 から 1"):
        seed.users(sandbox.engine, 10, with_null_emails=1.5)

    assert seed.users(sandbox.engine, 500, seed=3) == 500
    assert seed.users(sandbox.engine, 20, seed=3) == 20
    rows = _users(sandbox.engine)
    assert [row[0] for row in rows] == list(range(1, 521))
    assert all(row[2] and row[2].endswith("@example.com") for row in rows)
    assert {row[4] for row in rows} == {"user"}  # the server default
    with Session(sandbox.engine) as session:
        # A seeded table keeps working for the app: on PostgreSQL the
        # SERIAL sequence was moved past the seeded ids.
        session.add(User(name="新規 ユーザー", email="new@example.com"))
        session.commit()
        assert session.scalar(sa.select(sa.func.max(User.id))) == 521

    made = seed.app_data(
        sandbox.engine, users=40, addresses_per_user=2, employees=6, seed=5
    )
    assert made == {"users": 46, "employees": 6, "addresses": 92}
    with Session(sandbox.engine) as session:
        employees = session.scalars(sa.select(Employee)).all()
        assert [e.id for e in employees] == list(range(562, 568))
        assert all(e.hire_date.year >= 2000 for e in employees)
        assert session.scalar(sa.select(sa.func.count(User.id))) == 567
        assert len(session.get(User, 522).addresses) == 2
        assert session.get(User, 1).addresses == []
        session.add(Address(email_address="x@example.com", user_id=1))
        session.commit()  # the addresses sequence is past the seeded ids

    with sandbox.engine.begin() as connection:
        connection.execute(
            sa.text("ALTER TABLE users ADD COLUMN nickname VARCHAR(20)")
        )
    seed.users(sandbox.engine, 10)  # a nullable extra column is left NULL
    assert len(_users(sandbox.engine)) == 577


def test_same_seed_same_rows(sandbox: sandboxes.Sandbox) -> None:
    migrate.upgrade(sandbox, NULLABLE_EMAIL)

    def fresh(seed_: int) -> list[tuple]:
        with sandbox.engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM users"))
        seed.users(sandbox.engine, 300, seed=seed_, with_null_emails=0.1)
        return _users(sandbox.engine)

    first = fresh(7)
    assert first == fresh(7)
    assert first != fresh(8)


def test_earlier_revisions(sandbox: sandboxes.Sandbox) -> None:
    migrate.upgrade(sandbox, FIRST)  # users(id, name, email NULL)
    seed.users(sandbox.engine, 50, with_null_emails=0.5)
    rows = _users(sandbox.engine)
    assert len(rows) == 50 and len(rows[0]) == 3
    assert sum(row[2] is None for row in rows) == 25

    migrate.upgrade(sandbox, NULLABLE_EMAIL)  # + age
    seed.users(sandbox.engine, 1000, with_null_emails=0.3)
    rows = _users(sandbox.engine)[50:]
    assert len(rows) == 1000 and len(rows[0]) == 4
    assert sum(row[2] is None for row in rows) == 300
    assert all(row[1] and row[3] is not None for row in rows)

    # The lecture's next revision backfills exactly those NULLs.
    migrate.upgrade(sandbox, "cf30bc1d0ee8")
    with sandbox.engine.connect() as connection:
        placeholders = connection.execute(
            sa.text(
                "SELECT count(*) FROM users "
                "WHERE email LIKE 'unknown-%@example.invalid'"
            )
        ).scalar_one()
    assert placeholders == 325


def test_progress_bar_only_when_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with sandboxes.create(
        "seed_progress", server=sa.URL.create("sqlite")
    ) as box:
        migrate.upgrade(box, "head")
        seed.users(box.engine, 2000)
        assert capsys.readouterr().err == ""
        seed.users(box.engine, 2000, progress=True)
        assert "users" in capsys.readouterr().err
