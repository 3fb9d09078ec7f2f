"""backfill NULL emails, then make users.email NOT NULL

Why: every user needs an email. Existing rows with NULL would make the
ALTER fail, so they get a placeholder first. The placeholder is unique per
row (``unknown-<id>@example.invalid``): the 2024 sample wrote one constant,
which breaks the UNIQUE constraint as soon as two rows are NULL.

The UPDATE goes through a ``sa.table()`` construct, not a string: the
statement is rendered for each database (``||`` or ``concat()``), and no
quoting of table names is left to chance.

Revision ID: cf30bc1d0ee8
Revises: 71cc828891fc
Create Date: 2024-04-16 10:20:00+00:00
"""

# dblab-lint: ignore[MG201] 埋める UPDATE と NOT NULL にする ALTER の間に
# 新しい NULL が入らないよう、講義のサンプル 3 と同じく 1 つの revision で行う
# (SQLite と PostgreSQL では同じトランザクションで、失敗すれば両方戻る)。

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "cf30bc1d0ee8"
down_revision: str | Sequence[str] | None = "71cc828891fc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLACEHOLDER_PREFIX = "unknown-"
PLACEHOLDER_DOMAIN = "@example.invalid"

users = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("email", sa.String(length=120)),
)


def users_as_of_this_revision() -> sa.Table:
    """The shape of ``users`` here, so SQLite's batch mode need not reflect.

    With the table given, the same revision also renders as offline SQL.
    """
    return sa.Table(
        "users",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("email", sa.String(length=120), nullable=True),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )


def upgrade() -> None:
    """Backfill unique placeholders, then forbid NULL."""
    placeholder = (
        PLACEHOLDER_PREFIX
        + sa.cast(users.c.id, sa.String(length=20))
        + PLACEHOLDER_DOMAIN
    )
    op.execute(
        users.update().where(users.c.email.is_(None)).values(email=placeholder)
    )
    with op.batch_alter_table(
        "users", copy_from=users_as_of_this_revision()
    ) as batch_op:
        batch_op.alter_column(
            "email", existing_type=sa.String(length=120), nullable=False
        )


def downgrade() -> None:
    """Allow NULL again and turn the placeholders back into NULL."""
    with op.batch_alter_table(
        "users", copy_from=users_as_of_this_revision()
    ) as batch_op:
        batch_op.alter_column(
            "email", existing_type=sa.String(length=120), nullable=True
        )
    op.execute(
        users.update()
        .where(
            users.c.email.like(f"{PLACEHOLDER_PREFIX}%{PLACEHOLDER_DOMAIN}")
        )
        .values(email=None)
    )
