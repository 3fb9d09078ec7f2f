"""Checkers of notebook 00: the solution passes, wrong answers do not."""

from __future__ import annotations

import pytest

from app.models import User
from dblab.checks import start_here


@pytest.fixture
def box():
    box = start_here.prepare()
    yield box
    box.close()


def add(box, *emails: str) -> None:
    with box.session() as session:
        for number, email in enumerate(emails):
            session.add(User(name=f"user{number}", email=email))
        session.commit()


def test_solution_passes(box) -> None:
    add(box, "a@example.com", "b@example.com", "c@example.com")
    result = start_here.three_users(box.engine)
    assert result.ok, result


@pytest.mark.parametrize(
    ("emails", "expected"),
    [
        ((), "まだいません"),
        (("a@example.com", "b@example.com"), "2 人"),
        (("a@example.com", "b@example.com", "c@example.org"), "2 人"),
        (tuple(f"{c}@example.com" for c in "abcd"), "4 人"),
    ],
)
def test_wrong_answers_are_rejected(box, emails, expected) -> None:
    add(box, *emails)
    result = start_here.three_users(box.engine)
    assert not result.ok
    assert expected in result.message
    assert result.section and "00_start_here" in result.section


def test_stub_and_broken_input_do_not_raise() -> None:
    assert "まだ解答がありません" in start_here.three_users(...).message
    broken = start_here.three_users("not an engine")
    assert not broken.ok
    assert "確認中にエラー" in broken.message


@pytest.mark.parametrize(
    ("answer", "ok", "expected"),
    [
        ("users.id", True, "users.id"),
        (" Users.ID ", True, "users.id"),
        ("employees.id", False, "参照「先」"),
        ("users", False, "テーブル名.列名"),
        ("addresses.user_id", False, "PK,FK"),
        (..., False, "まだ解答がありません"),
    ],
)
def test_employee_key(answer, ok, expected) -> None:
    result = start_here.employee_key(answer)
    assert result.ok is ok
    assert expected in result.message


# -- exercise 2: one user with two addresses ---------------------------------


def add_person(box, email: str, *addresses: str, owner=None) -> None:
    """A user with ``addresses``; ``owner`` another user to attach them to."""
    from app.models import Address

    with box.session() as session:
        user = User(name="Ada", email=email)
        session.add(user)
        target = user
        if owner is not None:
            target = User(name="Other", email=owner)
            session.add(target)
        target.addresses.extend(Address(email_address=a) for a in addresses)
        session.commit()


def test_user_with_addresses_solution_passes(box) -> None:
    add_person(box, "ada@example.com", "home@ada.example", "work@ada.example")
    result = start_here.user_with_addresses(box.engine)
    assert result.ok, result
    assert len(result.details) == 2


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda b: None, "まだいません"),
        # the lesson's own move: users only, no rows in the second table
        (lambda b: add(b, "a@example.com"), "アドレスが 0 件"),
        (lambda b: add_person(b, "a@example.com", "x@a.example"), "1 件"),
        (
            lambda b: add_person(
                b,
                "a@example.com",
                "x@a.example",
                "y@a.example",
                owner="b@example.org",
            ),
            "ではない利用者を指すアドレス",
        ),
        (
            lambda b: add(b, "a@example.com", "b@example.com"),
            "2 人います",
        ),
        (
            lambda b: add_person(b, "a@example.com", "same@x", "same@x"),
            "同じ",
        ),
    ],
)
def test_user_with_addresses_wrong_answers(box, setup, expected) -> None:
    setup(box)
    result = start_here.user_with_addresses(box.engine)
    assert not result.ok, result
    assert expected in result.message
    assert result.section == start_here.SECTION_ER
