"""Checkers for notebook 00 (start here): the checker demo exercise."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Engine

from dblab import migrate, sandbox
from dblab.checks import Result, checker, failed, passed

SECTION = "00_start_here「チェッカーの使い方」"
DOMAIN = "@example.com"


def prepare() -> sandbox.Sandbox:
    """The state the exercise starts from: a sandbox at head, no users."""
    box = sandbox.create("start_here_exercise")
    migrate.upgrade(box, "head")
    return box


@checker(SECTION)
def three_users(engine: Engine) -> Result:
    """Exactly three users whose email ends with ``@example.com``."""
    users = sa.table("users", sa.column("name"), sa.column("email"))
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(users.c.name, users.c.email).where(
                users.c.email.like(f"%{DOMAIN}")
            )
        ).all()
    if not rows:
        return failed(
            f"email が {DOMAIN} で終わる利用者がまだいません。"
            "3 人追加して commit してください。",
            SECTION,
        )
    if len(rows) != 3:
        return failed(
            f"email が {DOMAIN} で終わる利用者が {len(rows)} 人います。"
            "ちょうど 3 人にしてください。",
            SECTION,
        )
    blank = [r.email for r in rows if not (r.name or "").strip()]
    if blank:
        return failed(
            f"名前が空の利用者がいます: {', '.join(blank)}。", SECTION
        )
    return passed(
        f"{DOMAIN} の利用者が 3 人います。",
        *(f"{r.name} <{r.email}>" for r in rows),
    )


@checker(SECTION.replace("チェッカーの使い方", "ER 図を読む"))
def employee_key(answer: str) -> Result:
    """Exercise 1: the column ``employees.id`` references."""
    section = SECTION.replace("チェッカーの使い方", "ER 図を読む")
    text = str(answer).strip().lower().replace(" ", "")
    if text == "users.id":
        return passed(
            "employees.id は users.id を参照する主キーです "
            "(結合テーブル継承)。"
        )
    if text in {"employees.id", "id"}:
        return failed(
            "それは employees 側の列です。"
            "参照「先」のテーブルと列を答えてください。",
            section,
        )
    if "." not in text:
        return failed(
            '"テーブル名.列名" の形で答えてください '
            '(例: "addresses.user_id")。',
            section,
        )
    return failed(
        f"{answer!r} ではありません。ER 図の employees の PK,FK の列が"
        "どのテーブルのどの列につながっているかを見てください。",
        section,
    )


SECTION_ER = SECTION.replace("チェッカーの使い方", "ER 図を読む")


@checker(SECTION_ER)
def user_with_addresses(engine: Engine) -> Result:
    """Exercise 2: one ``@example.com`` user owning exactly two addresses.

    The lesson added users only; here the rows of a second table must
    point at the right user (``addresses.user_id``), as the ER diagram
    shows.
    """
    users = sa.table("users", sa.column("id"), sa.column("email"))
    addresses = sa.table(
        "addresses", sa.column("user_id"), sa.column("email_address")
    )
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(users.c.id, users.c.email).where(
                users.c.email.like(f"%{DOMAIN}")
            )
        ).all()
        owned = connection.execute(
            sa.select(addresses.c.user_id, addresses.c.email_address)
        ).all()
    if not found and not owned:
        return failed(
            f"email が {DOMAIN} で終わる利用者がまだいません。"
            "利用者 1 人とメールアドレス (addresses の行) 2 件を追加して"
            " commit してください。",
            SECTION_ER,
        )
    if len(found) != 1:
        return failed(
            f"email が {DOMAIN} で終わる利用者が {len(found)} 人います。"
            "ちょうど 1 人にしてください。",
            SECTION_ER,
        )
    user_id = found[0].id
    mine = [row.email_address for row in owned if row.user_id == user_id]
    others = len(owned) - len(mine)
    if others:
        return failed(
            f"{found[0].email} ではない利用者を指すアドレスが {others} 件"
            "あります。addresses.user_id が、その利用者の users.id を"
            "指すようにしてください (Address(..., user=user) か "
            "user.addresses.append)。",
            SECTION_ER,
        )
    if len(mine) != 2:
        return failed(
            f"{found[0].email} のアドレスが {len(mine)} 件です。"
            "2 件にしてください (アドレスは addresses テーブルの行で、"
            "user_id で利用者を指します)。",
            SECTION_ER,
        )
    if len(set(mine)) != 2 or not all((m or "").strip() for m in mine):
        return failed(
            "2 件のアドレスの email_address が空か、同じです。"
            "別々のアドレスにしてください。",
            SECTION_ER,
        )
    return passed(
        f"{found[0].email} (users.id = {user_id}) が"
        "アドレスを 2 件持っています。",
        *(f"addresses: {m} → user_id {user_id}" for m in mine),
    )
