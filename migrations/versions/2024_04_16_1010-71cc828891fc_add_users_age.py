"""add users.age

Why: the app asks for a user's age. Nullable, so existing rows need no
value and the change is a cheap ADD COLUMN on every database.

Revision ID: 71cc828891fc
Revises: fc269420a215
Create Date: 2024-04-16 10:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "71cc828891fc"
down_revision: str | Sequence[str] | None = "fc269420a215"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable ``age`` column."""
    op.add_column("users", sa.Column("age", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop ``age``: the ages stored since are lost."""
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("age")
