"""expand: an index on users.family_name, built while writes go on

The new app version looks users up by family name. PostgreSQL builds
the index CONCURRENTLY (outside a transaction, hence autocommit_block);
MariaDB builds it in place with LOCK=NONE (it refuses rather than lock);
SQLite has one writer and builds it at once.

Revision ID: c10e00000003
Revises: c10e00000002
"""

from alembic import op

revision = "c10e00000003"
down_revision = "c10e00000002"
branch_labels = None
depends_on = None

INDEX = "ix_users_family_name"


def upgrade():
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(
                INDEX,
                "users",
                ["family_name"],
                postgresql_concurrently=True,
                if_not_exists=True,
            )
    elif dialect == "mysql":
        op.execute(
            f"CREATE INDEX {INDEX} ON users (family_name) "
            "ALGORITHM=INPLACE LOCK=NONE"
        )
    else:
        op.create_index(INDEX, "users", ["family_name"])


def downgrade():
    if op.get_context().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index(
                INDEX,
                table_name="users",
                postgresql_concurrently=True,
                if_exists=True,
            )
    else:
        op.drop_index(INDEX, table_name="users")
