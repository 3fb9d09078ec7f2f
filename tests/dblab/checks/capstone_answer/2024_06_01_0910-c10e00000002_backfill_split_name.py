"""migrate: fill family_name and given_name from name, in batches

Keyset batches: the next 500 ids after the last one done
(``WHERE id > :last ORDER BY id LIMIT n``), then one UPDATE of that key
range, committed on its own, with a pause so the live app's writes get
the table in between. The database splits the name inside the UPDATE
(the rule of notebook 10, written in SQL): the name is read and the new
columns written in one statement, nothing travels to Python, and every
batch sends the same statement. A row is only filled while its
family_name is still NULL: the dual-write app may have written it
meanwhile, and its values are newer.

Revision ID: c10e00000002
Revises: c10e00000001
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "c10e00000002"
down_revision = "c10e00000001"
branch_labels = None
depends_on = None

BATCH_SIZE = 500
PAUSE = 0.02

users = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String(50)),
    sa.column("family_name", sa.String(50)),
    sa.column("given_name", sa.String(50)),
)


def split_name(dialect):
    """The split rule in SQL: full-width spaces count as spaces, the ends
    are trimmed, the first space separates family from given name, no
    space leaves the given name ''. (Kept here: a revision never imports
    application code, which keeps changing after it.)"""
    text = sa.func.trim(
        sa.func.replace(sa.func.coalesce(users.c.name, ""), "\u3000", " ")
    )
    if dialect == "postgresql":
        space = sa.func.strpos(text, " ")
    else:  # SQLite and MariaDB
        space = sa.func.instr(text, " ")
    family = sa.case(
        (space == 0, text), else_=sa.func.substr(text, 1, space - 1)
    )
    given = sa.case(
        (space == 0, ""), else_=sa.func.trim(sa.func.substr(text, space + 1))
    )
    return family, given


BATCH = sa.and_(
    users.c.id > sa.bindparam("last"), users.c.id <= sa.bindparam("upto")
)
"""One batch: the key range after the last id done, up to ``upto``."""


def next_last(bind, last):
    """The last id of the next batch (None when no id is left)."""
    ids = (
        sa.select(users.c.id)
        .where(users.c.id > last)
        .order_by(users.c.id)
        .limit(BATCH_SIZE)
        .subquery()
    )
    return bind.execute(sa.select(sa.func.max(ids.c.id))).scalar()


def end_batch(bind):
    """Commit the batch, pause, and begin the next one.

    In autocommit_block() PostgreSQL and MariaDB commit every statement
    on its own. SQLite's driver recipe keeps one transaction open for
    the whole block, so here it is committed and begun anew by hand.
    """
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        bind.exec_driver_sql("COMMIT")
    time.sleep(PAUSE)
    if sqlite:
        bind.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade():
    if op.get_context().as_sql:
        return  # offline SQL would need the loop's key ranges
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        family, given = split_name(bind.dialect.name)
        fill = (
            users.update()
            .where(BATCH, users.c.family_name.is_(None))
            .values(family_name=family, given_name=given)
        )
        last = 0
        while (upto := next_last(bind, last)) is not None:
            bind.execute(fill, {"last": last, "upto": upto})
            end_batch(bind)
            last = upto


def downgrade():
    if op.get_context().as_sql:
        return
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        empty = (
            users.update()
            .where(BATCH, users.c.family_name.is_not(None))
            .values(family_name=None, given_name=None)
        )
        last = 0
        while (upto := next_last(bind, last)) is not None:
            bind.execute(empty, {"last": last, "upto": upto})
            end_batch(bind)
            last = upto
