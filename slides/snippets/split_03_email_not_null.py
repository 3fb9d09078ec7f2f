"""backfill NULL emails, then make users.email NOT NULL

サンプル 3 (nullable の変更) の修正版。NULL を行ごとに違う仮の値で埋めて
(UNIQUE なので 1 つの定数では 2 行目で失敗する)、それから NOT NULL にする。

Revision ID: cf30bc1d0ee8
Revises: 71cc828891fc
Create Date: 2024-04-16 10:20:00+00:00
"""

# dblab-lint: ignore[MG201] 埋める UPDATE と NOT NULL にする ALTER の間に
# 新しい NULL が入らないよう、1 つの revision で行う

import sqlalchemy as sa
from alembic import op

revision = "cf30bc1d0ee8"
down_revision = "71cc828891fc"
branch_labels = None
depends_on = None

# region table
# 文字列の SQL ではなく、この revision 時点のテーブルの形を書く
users = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("email", sa.String(length=120)),
)
# endregion table


# region upgrade
def upgrade() -> None:
    placeholder = (  # unknown-<id>@example.invalid: 行ごとに違う値
        "unknown-" + sa.cast(users.c.id, sa.String(20)) + "@example.invalid"
    )
    op.execute(
        users.update().where(users.c.email.is_(None)).values(email=placeholder)
    )
    with op.batch_alter_table("users") as batch_op:  # SQLite でも動く
        batch_op.alter_column(
            "email", existing_type=sa.String(length=120), nullable=False
        )


# endregion upgrade


# region downgrade
def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column(
            "email", existing_type=sa.String(length=120), nullable=True
        )
    op.execute(  # 仮の値を NULL に戻す
        users.update()
        .where(users.c.email.like("unknown-%@example.invalid"))
        .values(email=None)
    )


# endregion downgrade
