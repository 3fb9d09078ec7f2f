"""create addresses

Why: a user can have several addresses (the lecture's relationship
example). The foreign key has a name from the naming convention, so a
later revision can drop or change it, and SQLite's batch mode can keep
it when it rebuilds a table.

Revision ID: 3e2e15a5d823
Revises: cf30bc1d0ee8
Create Date: 2024-04-16 10:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "3e2e15a5d823"
down_revision: str | Sequence[str] | None = "cf30bc1d0ee8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``addresses`` with an indexed, named foreign key."""
    op.create_table(
        "addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_address", sa.String(length=120), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_addresses_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addresses")),
    )
    op.create_index(
        op.f("ix_addresses_user_id"), "addresses", ["user_id"], unique=False
    )


def downgrade() -> None:
    """Drop ``addresses``; its index goes with it.

    No separate ``drop_index`` first: MariaDB refuses to drop an index a
    foreign key still needs.
    """
    op.drop_table("addresses")
