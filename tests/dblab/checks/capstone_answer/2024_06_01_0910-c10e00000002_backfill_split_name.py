"""migrate: fill family_name and given_name from name, in batches

Keyset batches (``WHERE id > :last ORDER BY id LIMIT n``), each batch
committed on its own, with a pause between batches so the live app's
writes get the table in between. A row is only filled while its
family_name is still NULL: the dual-write app may have written it
meanwhile, and its values are newer than what this batch read.

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


def split_name(name):
    """The split rule of notebook 10 (kept here: a revision never
    imports application code, which keeps changing after it)."""
    text = name.replace("\u3000", " ").strip()
    family, _, given = text.partition(" ")
    return family, given.strip()


def fill(bind, last):
    rows = bind.execute(
        sa.select(users.c.id, users.c.name)
        .where(users.c.id > last, users.c.family_name.is_(None))
        .order_by(users.c.id)
        .limit(BATCH_SIZE)
    ).all()
    if not rows:
        return None
    family, given = {}, {}
    for key, name in rows:
        family[key], given[key] = split_name(name or "")
    if bind.dialect.name == "postgresql":
        # UPDATE ... FROM (VALUES ...): one statement, a hash join.
        split = sa.values(
            sa.column("key", sa.Integer()),
            sa.column("family", sa.String(50)),
            sa.column("given", sa.String(50)),
            name="split",
        ).data([(key, family[key], given[key]) for key in family])
        bind.execute(
            users.update()
            .where(users.c.id == split.c.key, users.c.family_name.is_(None))
            .values(family_name=split.c.family, given_name=split.c.given)
        )
        return rows[-1].id
    # One UPDATE per batch (CASE id WHEN ... THEN ...): one statement,
    # one commit, whatever the driver does with executemany.
    bind.execute(
        users.update()
        .where(users.c.id.in_(family), users.c.family_name.is_(None))
        .values(
            family_name=sa.case(family, value=users.c.id),
            given_name=sa.case(given, value=users.c.id),
        )
    )
    return rows[-1].id


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
        return  # offline SQL cannot read the rows it would split
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        last = 0
        while last is not None:
            last = fill(bind, last)
            end_batch(bind)


def downgrade():
    if op.get_context().as_sql:
        return
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        while True:
            keys = (
                bind.execute(
                    sa.select(users.c.id)
                    .where(users.c.family_name.is_not(None))
                    .order_by(users.c.id)
                    .limit(BATCH_SIZE)
                )
                .scalars()
                .all()
            )
            if not keys:
                return
            bind.execute(
                users.update()
                .where(users.c.id.in_(keys))
                .values(family_name=None, given_name=None)
            )
            end_batch(bind)
