"""create employees (joined-table inheritance) and users.type

Why: employees are users with a hire date. Joined-table inheritance keeps
them in ``employees``, sharing the primary key of ``users``; the new
``users.type`` column is the discriminator SQLAlchemy reads to know which
class a row is. It is NOT NULL with a server default, so every existing
row becomes a plain ``user`` in the same statement.

Revision ID: 36bd30ad7a7f
Revises: 3e2e15a5d823
Create Date: 2024-04-16 10:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "36bd30ad7a7f"
down_revision: str | Sequence[str] | None = "3e2e15a5d823"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the discriminator, then the ``employees`` table."""
    op.add_column(
        "users",
        sa.Column(
            "type",
            sa.String(length=20),
            server_default="user",
            nullable=False,
        ),
    )
    op.create_table(
        "employees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hire_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"],
            ["users.id"],
            name=op.f("fk_employees_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employees")),
    )


def downgrade() -> None:
    """Drop ``employees`` and the discriminator.

    The employees stay in ``users`` as plain users; their hire dates are
    lost.
    """
    op.drop_table("employees")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("type")
