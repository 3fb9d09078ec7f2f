"""create users

サンプル 1 (テーブルの追加) の修正版。テーブル名は予約語を避けて users、
email は最初は NULL を許す (NOT NULL にするのはサンプル 3 の仕事)。

Revision ID: fc269420a215
Revises:
Create Date: 2024-04-16 10:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

# region header
revision = "fc269420a215"  # '01' ではなく Alembic が振る ID
down_revision = None
branch_labels = None
depends_on = None
# endregion header


# region upgrade
def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("email", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )


def downgrade() -> None:
    op.drop_table("users")


# endregion upgrade
