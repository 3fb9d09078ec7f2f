"""Checkers of notebook 01: the solutions pass, plausible mistakes do not."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from dblab.checks import orm_vs_sqlite3 as checks


class Base(DeclarativeBase):
    pass


class User(Base):
    """The notebook's own model of ``users``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    email: Mapped[str] = mapped_column(sa.String(120))


def assert_rejected(result, expected: str) -> None:
    assert not result.ok, result
    assert expected in result.message, result.message
    assert result.section and "01_orm_vs_sqlite3" in result.section


def test_prepare_seeds_the_users() -> None:
    box = checks.prepare()
    try:
        assert box.backend == "sqlite"
        with Session(box.engine) as session:
            names = session.scalars(sa.select(User.name).order_by(User.id))
            assert list(names) == [name for name, _ in checks.USERS]
    finally:
        box.close()


# Exercise 1: names_starting_with ---------------------------------------


def names_solution(session, prefix):
    return list(
        session.scalars(
            sa.select(User.name)
            .where(User.name.startswith(prefix))
            .order_by(User.name)
        )
    )


def names_unsorted(session, prefix):
    return list(
        session.scalars(
            sa.select(User.name)
            .where(User.name.startswith(prefix))
            .order_by(User.name.desc())
        )
    )


def names_in_python(session, prefix):
    names = session.scalars(sa.select(User.name).order_by(User.name))
    return [n for n in names if n.startswith(prefix)]


def names_as_objects(session, prefix):
    return list(
        session.scalars(
            sa.select(User)
            .where(User.name.startswith(prefix))
            .order_by(User.name)
        )
    )


def names_wrong_filter(session, prefix):
    return list(
        session.scalars(
            sa.select(User.name)
            .where(User.name.contains(prefix.lower()))
            .order_by(User.name)
        )
    )


def names_sorted_in_python(session, prefix):
    query = sa.select(User.name).where(User.name.startswith(prefix))
    return sorted(session.scalars(query))


def names_no_return(session, prefix):
    session.scalars(sa.select(User.name).where(User.name.startswith(prefix)))


def test_names_solution_passes() -> None:
    result = checks.names_starting_with(names_solution)
    assert result.ok, result


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (names_unsorted, "名前順"),
        (names_in_python, "WHERE"),
        (names_as_objects, "select(User.name)"),
        (names_wrong_filter, "where の条件"),
        (names_no_return, "return"),
        (names_sorted_in_python, "ORDER BY"),
    ],
)
def test_names_mistakes_are_rejected(function, expected) -> None:
    assert_rejected(checks.names_starting_with(function), expected)


def test_names_stub() -> None:
    def stub(session, prefix):
        return ...

    assert "まだ解答がありません" in checks.names_starting_with(stub).message
    assert "まだ解答がありません" in checks.names_starting_with(...).message


# Exercise 2: change_email ------------------------------------------------


def update_solution(conn, name, email):
    return conn.execute(
        "UPDATE users SET email = ? WHERE name = ?", (email, name)
    ).rowcount


def update_fstring(conn, name, email):
    """The notebook's anti-pattern, now in an UPDATE."""
    sql = f"UPDATE users SET email = '{email}' WHERE name = '{name}'"  # noqa: S608
    return conn.execute(sql).rowcount


def update_escaped(conn, name, email):
    """Quotes doubled: no row is harmed, yet the values are pasted."""
    name, email = name.replace("'", "''"), email.replace("'", "''")
    sql = f"UPDATE users SET email = '{email}' WHERE name = '{name}'"  # noqa: S608
    return conn.execute(sql).rowcount


def update_name_only_bound(conn, name, email):
    """The name bound, the e-mail pasted: the ' -- attack still works."""
    sql = f"UPDATE users SET email = '{email}' WHERE name = ?"  # noqa: S608
    return conn.execute(sql, (name,)).rowcount


def update_with_cursor_escaped(conn, name, email):
    cursor = conn.cursor()
    name, email = name.replace("'", "''"), email.replace("'", "''")
    cursor.execute(f"UPDATE users SET email = '{email}' WHERE name = '{name}'")  # noqa: S608
    return cursor.rowcount


def update_like(conn, name, email):
    return conn.execute(
        "UPDATE users SET email = ? WHERE name LIKE ?", (email, name)
    ).rowcount


def update_nothing(conn, name, email):
    conn.execute("SELECT id FROM users WHERE name = ?", (name,))


def test_update_solution_passes() -> None:
    result = checks.change_email(update_solution)
    assert result.ok, result


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (update_fstring, "細工した名前"),
        (update_escaped, "エスケープ"),
        (update_with_cursor_escaped, "エスケープ"),
        (update_name_only_bound, "値が埋め込まれています"),
        (update_like, "LIKE では % が"),
        (update_nothing, "UPDATE users SET email = ?"),
    ],
)
def test_update_mistakes_are_rejected(function, expected) -> None:
    assert_rejected(checks.change_email(function), expected)


def test_update_reports_sql_errors() -> None:
    def broken(conn, name, email):
        raise sqlite3.OperationalError('near "x": syntax error')

    assert_rejected(checks.change_email(broken), "エラーになりました")


# Exercise 3: bulk_update -------------------------------------------------


def bulk_solution(session, changes):
    session.execute(sa.update(User), changes)
    session.commit()


def bulk_per_object(session, changes):
    """The lesson's per-object way: load each user, set, flush."""
    for change in changes:
        session.get(User, change["id"]).email = change["email"]
    session.commit()


def bulk_core_loop(session, changes):
    for change in changes:
        session.execute(
            sa.update(User)
            .where(User.id == change["id"])
            .values(email=change["email"])
        )
    session.commit()


def bulk_no_commit(session, changes):
    session.execute(sa.update(User), changes)


def bulk_half(session, changes):
    session.execute(sa.update(User), changes[: len(changes) // 2])
    session.commit()


def bulk_everyone_same(session, changes):
    session.execute(sa.update(User).values(email=User.name + "@x.example"))
    session.commit()


def test_bulk_solution_passes() -> None:
    result = checks.bulk_update(bulk_solution)
    assert result.ok, result


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (bulk_per_object, "SELECT が"),
        (bulk_core_loop, f"UPDATE が {checks.BULK_SIZE} 文"),
        (bulk_no_commit, "commit"),
        (bulk_half, f"正しくない利用者が {checks.BULK_SIZE // 2} 人"),
        (bulk_everyone_same, "変わった人が 6 人"),
    ],
)
def test_bulk_mistakes_are_rejected(function, expected) -> None:
    assert_rejected(checks.bulk_update(function), expected)


def test_bulk_stub() -> None:
    def stub(session, changes): ...

    assert "まだ解答がありません" in checks.bulk_update(stub).message
    assert "まだ解答がありません" in checks.bulk_update(None).message
