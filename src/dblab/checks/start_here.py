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
