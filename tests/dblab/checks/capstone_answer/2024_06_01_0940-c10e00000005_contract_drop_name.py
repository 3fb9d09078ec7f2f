"""contract: drop users.name, once no live app version uses it

Run only after every instance of the app reads and writes the new
columns alone (app version new-only). PostgreSQL and MariaDB drop the
column without rewriting the table; SQLite rebuilds it.

Revision ID: c10e00000005
Revises: c10e00000004
"""

import sqlalchemy as sa
from alembic import op

# dblab-lint: ignore[DS103] name の中身は family_name と given_name に
# 移し終えており、この列を読み書きするアプリの版はもう動いていない。

revision = "c10e00000005"
down_revision = "c10e00000004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("name")


def downgrade():
    # The full name comes back as family + half-width space + given: a
    # full-width or doubled space of the original is not restored.
    op.add_column("users", sa.Column("name", sa.String(50)))
    users = sa.table(
        "users",
        sa.column("name", sa.String(50)),
        sa.column("family_name", sa.String(50)),
        sa.column("given_name", sa.String(50)),
    )
    op.execute(
        users.update().values(
            name=sa.func.trim(users.c.family_name + " " + users.c.given_name)
        )
    )
