"""add users.age

サンプル 2 (カラムの追加)。NULL を許す列なので既存の行はそのまま。

Revision ID: 71cc828891fc
Revises: fc269420a215
Create Date: 2024-04-16 10:10:00+00:00
"""

import sqlalchemy as sa
from alembic import op

# region header
revision = "71cc828891fc"
down_revision = "fc269420a215"  # 1 つ前の revision
branch_labels = None
depends_on = None
# endregion header


# region upgrade
def upgrade() -> None:
    op.add_column("users", sa.Column("age", sa.Integer(), nullable=True))


# endregion upgrade


# region downgrade
def downgrade() -> None:
    # SQLite の ALTER TABLE は弱いので batch mode (テーブルを作り直す)
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("age")  # 入っていた年齢は失われる


# endregion downgrade
