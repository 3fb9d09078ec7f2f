"""migrate: family_name and given_name NOT NULL, after the backfill

PostgreSQL: CHECK ... NOT VALID (a short lock), VALIDATE (reads the rows
while writes go on), SET NOT NULL (trusts the validated check), drop the
check; each statement commits on its own. MariaDB: MODIFY ... NOT NULL
in place, LOCK=NONE. SQLite: a batch-mode rebuild.

Revision ID: c10e00000004
Revises: c10e00000003
"""

import sqlalchemy as sa
from alembic import op

# dblab-lint: ignore[LK104] PostgreSQL は検証済みの CHECK を使うので走査なし、
# MariaDB は ALGORITHM=INPLACE, LOCK=NONE で書き込みを止めない。

revision = "c10e00000004"
down_revision = "c10e00000003"
branch_labels = None
depends_on = None

COLUMNS = ("family_name", "given_name")


def upgrade():
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        with op.get_context().autocommit_block():
            for column in COLUMNS:
                check = f"ck_users_{column}_not_null"
                op.execute(
                    f"ALTER TABLE users DROP CONSTRAINT IF EXISTS {check}"
                )
                op.execute(
                    f"ALTER TABLE users ADD CONSTRAINT {check} "
                    f"CHECK ({column} IS NOT NULL) NOT VALID"
                )
                op.execute(f"ALTER TABLE users VALIDATE CONSTRAINT {check}")
                op.execute(
                    f"ALTER TABLE users ALTER COLUMN {column} SET NOT NULL"
                )
                op.execute(f"ALTER TABLE users DROP CONSTRAINT {check}")
    elif dialect == "mysql":
        op.execute(
            "ALTER TABLE users MODIFY family_name VARCHAR(50) NOT NULL, "
            "MODIFY given_name VARCHAR(50) NOT NULL, "
            "ALGORITHM=INPLACE, LOCK=NONE"
        )
    else:
        with op.batch_alter_table("users") as batch_op:
            for column in COLUMNS:
                batch_op.alter_column(
                    column, existing_type=sa.String(50), nullable=False
                )


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        for column in COLUMNS:
            batch_op.alter_column(
                column, existing_type=sa.String(50), nullable=True
            )
