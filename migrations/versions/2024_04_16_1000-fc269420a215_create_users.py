"""create users

Why: the app stores its users. ``email`` starts out nullable, as it did in
the first release; a later revision backfills it and makes it NOT NULL.
The table is named ``users``: ``user`` is a reserved word in PostgreSQL.

Revision ID: fc269420a215
Revises:
Create Date: 2024-04-16 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "fc269420a215"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``users`` with a named primary key and unique email."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("email", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )


def downgrade() -> None:
    """Drop ``users`` (and every row in it)."""
    op.drop_table("users")
