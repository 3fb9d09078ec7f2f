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
    ],
)
def test_names_mistakes_are_rejected(function, expected) -> None:
    assert_rejected(checks.names_starting_with(function), expected)


def test_names_stub() -> None:
    def stub(session, prefix):
        return ...

    assert "まだ解答がありません" in checks.names_starting_with(stub).message
    assert "まだ解答がありません" in checks.names_starting_with(...).message


# Exercise 2: delete_user -------------------------------------------------


def delete_solution(conn, name):
    return conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount


def delete_fstring(conn, name):
    sql = f"DELETE FROM users WHERE name = '{name}'"  # noqa: S608 wrong answer
    return conn.execute(sql).rowcount


def delete_quotes_stripped(conn, name):
    clean = name.replace("'", "")
    sql = f"DELETE FROM users WHERE name = '{clean}'"  # noqa: S608 wrong answer
    return conn.execute(sql).rowcount


def delete_like(conn, name):
    return conn.execute(
        "DELETE FROM users WHERE name LIKE ?", (name,)
    ).rowcount


def delete_nothing(conn, name):
    conn.execute("SELECT id FROM users WHERE name = ?", (name,))


def test_delete_solution_passes() -> None:
    result = checks.delete_user(delete_solution)
    assert result.ok, result


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (delete_fstring, "行が削除されました"),
        (delete_quotes_stripped, "O'Brien"),
        (delete_like, "'%' で 6 行"),
        (delete_nothing, "削除されていません"),
    ],
)
def test_delete_mistakes_are_rejected(function, expected) -> None:
    assert_rejected(checks.delete_user(function), expected)


def test_delete_reports_sql_errors() -> None:
    def broken(conn, name):
        raise sqlite3.OperationalError('near "x": syntax error')

    assert_rejected(checks.delete_user(broken), "エラーになりました")


# Exercise 3: bulk_insert -------------------------------------------------


def bulk_solution(session, rows):
    session.execute(sa.insert(User), rows)
    session.commit()


def bulk_per_object(session, rows):
    for row in rows:
        session.add(User(**row))
    session.commit()


def bulk_core_loop(session, rows):
    for row in rows:
        session.execute(sa.insert(User).values(**row))
    session.commit()


def bulk_no_commit(session, rows):
    session.execute(sa.insert(User), rows)


def bulk_half(session, rows):
    session.execute(sa.insert(User), rows[: len(rows) // 2])
    session.commit()


def test_bulk_solution_passes() -> None:
    result = checks.bulk_insert(bulk_solution)
    assert result.ok, result


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (bulk_per_object, f"INSERT が {checks.BULK_SIZE} 文"),
        (bulk_core_loop, f"INSERT が {checks.BULK_SIZE} 文"),
        (bulk_no_commit, "commit"),
        (bulk_half, f"{checks.BULK_SIZE // 2} 人追加"),
    ],
)
def test_bulk_mistakes_are_rejected(function, expected) -> None:
    assert_rejected(checks.bulk_insert(function), expected)


def test_bulk_stub() -> None:
    def stub(session, rows): ...

    assert "まだ解答がありません" in checks.bulk_insert(stub).message
    assert "まだ解答がありません" in checks.bulk_insert(None).message
