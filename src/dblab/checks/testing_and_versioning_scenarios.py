"""The scenarios of notebook 07: revision files as text, and the
``prepare_*`` functions that write them into sandboxes.

The checkers are in :mod:`dblab.checks.testing_and_versioning`, which
re-exports these names; the notebook prints the texts. Each revision is
lint-clean unless its name says it is the bad example.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL

from dblab import migrate, revisions, sandbox
from dblab.checks import revision_source, write_revision

HEAD = revisions.HEAD

BRANCHES = {"a1a1a1a1a1a1": "add_users_nickname", "b2b2b2b2b2b2": "add_tags"}
"""The two revisions of the merge exercise, both after HEAD."""
APPLIED_BRANCH = "a1a1a1a1a1a1"
"""The branch the exercise's database has already applied."""

BRANCH_BODIES = {
    "a1a1a1a1a1a1": (
        "add users.nickname (Alice's branch)",
        'op.add_column("users", sa.Column("nickname", sa.String(50)))',
        'with op.batch_alter_table("users") as batch_op:\n'
        '        batch_op.drop_column("nickname")',
    ),
    "b2b2b2b2b2b2": (
        "create tags (Bob's branch)",
        'op.create_table(\n        "tags",\n'
        '        sa.Column("id", sa.Integer(), primary_key=True),\n'
        '        sa.Column("label", sa.String(30), nullable=False),\n'
        "    )",
        'op.drop_table("tags")',
    ),
}

BRANCH_FILES = {
    revision: (
        f"2024_05_01_0900-{revision}_{BRANCHES[revision]}",
        revision_source(message, revision, HEAD, up, down),
    )
    for revision, (message, up, down) in BRANCH_BODIES.items()
}
"""Each branch revision: its file name (no ``.py``) and its text."""

# --- the lesson's bad revision and its fix ---------------------------------

BAD_REVISION = revision_source(
    "add users.nickname, filled from name",
    "c3c3c3c3c3c3",
    HEAD,
    'op.add_column(\n        "users", sa.Column("nickname", sa.String(50), '
    "nullable=False)\n    )\n"
    '    op.execute("UPDATE users SET nickname = name")',
    "pass",
)
"""The lesson's revision: NOT NULL without a default, data and schema
mixed, an UPDATE without WHERE, an empty downgrade."""
BAD_NAME = "2024_05_02_0900-c3c3c3c3c3c3_add_users_nickname"
BAD_CODES = ("MF103", "MF201", "MG102", "MG201")
"""What the linter finds in BAD_REVISION (notebook 07 shows them)."""

_KEYSET_PREAMBLE = '''
BATCH_SIZE = 100
users = sa.table(
    "users", sa.column("id"), sa.column("name"), sa.column("nickname")
)


def fill_in_batches():
    """Keyset batches (id > last), each committed on its own."""
    if op.get_context().as_sql:  # offline: nothing to read, one UPDATE
        op.execute(
            users.update()
            .where(users.c.nickname.is_(None))
            .values(nickname=users.c.name)
        )
        return
    bind = op.get_bind()
    last = 0
    with op.get_context().autocommit_block():
        while True:
            ids = bind.execute(
                sa.select(users.c.id)
                .where(users.c.id > last, users.c.nickname.is_(None))
                .order_by(users.c.id)
                .limit(BATCH_SIZE)
            ).scalars().all()
            if not ids:
                return
            bind.execute(
                users.update()
                .where(users.c.id.in_(ids), users.c.nickname.is_(None))
                .values(nickname=users.c.name)
            )
            last = ids[-1]
'''

NICKNAME_FIX = {
    "2024_05_02_0900-e1e1e1e1e1e1_add_users_nickname": revision_source(
        "add users.nickname, nullable for now",
        "e1e1e1e1e1e1",
        HEAD,
        'op.add_column("users", sa.Column("nickname", sa.String(50)))',
        'with op.batch_alter_table("users") as batch_op:\n'
        '        batch_op.drop_column("nickname")',
    ),
    "2024_05_02_0910-e2e2e2e2e2e2_fill_users_nickname": revision_source(
        "fill users.nickname from name, 100 rows per transaction",
        "e2e2e2e2e2e2",
        "e1e1e1e1e1e1",
        "fill_in_batches()",
        "op.execute(\n        users.update()\n"
        "        .where(users.c.nickname.is_not(None))\n"
        "        .values(nickname=None)\n    )",
        preamble=_KEYSET_PREAMBLE,
    ),
    "2024_05_02_0920-e3e3e3e3e3e3_users_nickname_not_null": revision_source(
        "make users.nickname NOT NULL",
        "e3e3e3e3e3e3",
        "e2e2e2e2e2e2",
        'with op.batch_alter_table("users") as batch_op:\n'
        "        batch_op.alter_column(\n"
        '            "nickname", existing_type=sa.String(50), '
        "nullable=False\n        )",
        'with op.batch_alter_table("users") as batch_op:\n'
        "        batch_op.alter_column(\n"
        '            "nickname", existing_type=sa.String(50), '
        "nullable=True\n        )",
    ),
}
"""BAD_REVISION done right: column, batched backfill, NOT NULL."""

# --- exercise 2: another revision to fix ------------------------------------

PLAN_DEFAULT = "free"  # written into PLAN_REVISION below
PLAN_LENGTH = 20
PLAN_REVISION = revision_source(
    "add users.plan, every existing user on the free plan",
    "c5c5c5c5c5c5",
    HEAD,
    'op.add_column("users", sa.Column("plan", sa.String(20), '
    "nullable=False))\n"
    "    op.execute(\"UPDATE users SET plan = 'free'\")",
    "pass",
)
"""Exercise 2's revision: the same four findings, a constant value."""
PLAN_NAME = "2024_05_02_1000-c5c5c5c5c5c5_add_users_plan"

# --- exercise 3: the revision a test must judge ------------------------------

LOWER_ID = "d4d4d4d4d4d4"
LOWER_NAME = f"2024_05_03_0900-{LOWER_ID}_lowercase_emails"
LOWER_BATCH = 2
"""Rows per batch of LOWER_REVISION (small, so a test sees several)."""
_LOWER_PREAMBLE = f'''
# dblab-lint: ignore[MG102] 小文字にする前の大文字・小文字は残らないので
# 戻せない。古いアプリも小文字のアドレスをそのまま読める。

BATCH_SIZE = {LOWER_BATCH}
users = sa.table(
    "users", sa.column("id"), sa.column("name"), sa.column("email")
)


def capitals():
    """Rows whose e-mail has a capital letter. MariaDB's default collation
    calls 'A' and 'a' equal, so there the bytes are compared."""
    email = users.c.email
    if op.get_context().dialect.name == "mysql":
        email = sa.func.binary(email)
    return email != sa.func.lower(users.c.email)


def lower_in_batches():
    """Keyset batches (id > last), each committed on its own."""
    lowered = dict(email=sa.func.lower(users.c.email))
    if op.get_context().as_sql:  # offline: nothing to read, one UPDATE
        op.execute(users.update().where(capitals()).values(**lowered))
        return
    bind = op.get_bind()
    last = 0
    with op.get_context().autocommit_block():
        while True:
            ids = bind.execute(
                sa.select(users.c.id)
                .where(users.c.id > last, capitals())
                .order_by(users.c.id)
                .limit(BATCH_SIZE)
            ).scalars().all()
            if not ids:
                return
            bind.execute(
                users.update().where(users.c.id.in_(ids)).values(**lowered)
            )
            last = ids[-1]
'''
LOWER_REVISION = revision_source(
    "lowercase every e-mail address, in batches",
    LOWER_ID,
    HEAD,
    "lower_in_batches()",
    "pass  # see the waiver above: lowercasing cannot be undone",
    preamble=_LOWER_PREAMBLE,
)
"""The revision the learner's test is about (lint-clean: the MG102
waiver says why it cannot be undone)."""

_LOWERED = "lowered = dict(email=sa.func.lower(users.c.email))"
BROKEN_REVISIONS = {
    "何もしない revision": LOWER_REVISION.replace(
        _LOWERED, "lowered = dict(email=users.c.email)"
    ),
    "name まで小文字にする revision": LOWER_REVISION.replace(
        _LOWERED,
        "lowered = dict(\n        email=sa.func.lower(users.c.email),\n"
        "        name=sa.func.lower(users.c.name),\n    )",
    ),
    "最初のバッチしか処理しない revision": LOWER_REVISION.replace(
        "            last = ids[-1]", "            return  # forgot the loop"
    ),
}
"""Deliberately broken copies a good test must catch."""


# --- the sandboxes each exercise starts from --------------------------


def prepare_merge(server: URL | None = None) -> sandbox.Sandbox:
    """Two branches after the kit's head, both recorded in ``versions.sum``;
    the database has applied one of them (Alice's shipped first)."""
    box = sandbox.create("merge_exercise", server=server, migrations=True)
    for name, text in BRANCH_FILES.values():
        write_revision(box, name, text)
    migrate.write_checksums(box.migrations / "versions")
    migrate.upgrade(box, APPLIED_BRANCH)
    return box


def prepare_lint(server: URL | None = None) -> sandbox.Sandbox:
    """A sandbox at the kit's head with exercise 2's revision to fix."""
    box = sandbox.create("lint_exercise", server=server, migrations=True)
    migrate.upgrade(box, HEAD)
    write_revision(box, PLAN_NAME, PLAN_REVISION)
    return box


def prepare_seeded(
    server: URL | None = None, source: str = LOWER_REVISION
) -> sandbox.Sandbox:
    """An empty sandbox whose ``versions/`` ends with the lowercase revision.

    The learner's test migrates it (to HEAD, then to LOWER_ID) itself.
    """
    box = sandbox.create("seeded_test", server=server, migrations=True)
    write_revision(box, LOWER_NAME, source)
    return box


@contextmanager
def update_sizes(engine: sa.Engine) -> Iterator[list[int]]:
    """The rows each UPDATE of ``users`` touched while the block ran."""
    sizes: list[int] = []

    def record(conn, cursor, statement, *args) -> None:  # noqa: ARG001
        words = statement.split(None, 2)
        if words[:1] == ["UPDATE"] and "users" in words[1].lower():
            sizes.append(cursor.rowcount)

    event.listen(engine, "after_cursor_execute", record)
    try:
        yield sizes
    finally:
        event.remove(engine, "after_cursor_execute", record)


def outcome(
    test: Callable[[sandbox.Sandbox], object], server: URL, source: str
) -> tuple[BaseException | None, tuple[str, ...], list[str]]:
    """Run ``test`` on a fresh sandbox with ``source`` as the revision.

    Returns the error the test raised (None if it passed), the revision(s)
    the sandbox was left at and the e-mails left in ``users``.
    """
    with prepare_seeded(server, source) as box:
        try:
            test(box)
        except Exception as error:  # the learner's test failed
            return error, migrate.current(box), []
        now = migrate.current(box)
        if "users" not in sa.inspect(box.engine).get_table_names():
            return None, now, []
        with box.engine.connect() as connection:
            emails = connection.execute(sa.text("SELECT email FROM users"))
            return None, now, [e for e in emails.scalars() if e]
