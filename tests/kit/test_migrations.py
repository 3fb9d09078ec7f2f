"""The kit's Alembic chain on SQLite, PostgreSQL and MariaDB.

pytest-alembic's built-in tests run against a sandbox of each backend;
the kit's own tests add what those do not cover: data surviving each
step, the half-way failure, an unknown revision, offline SQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pytest_alembic.tests import (  # noqa: F401  (collected as tests)
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)

from dblab import migrate, revisions
from dblab.errors import MigrationError
from dblab.sandbox import Sandbox

HEAD = revisions.HEAD
CHAIN = list(revisions.CHAIN)


@pytest.fixture
def alembic_config(sandbox: Sandbox):
    return migrate.config(sandbox)


@pytest.fixture
def alembic_engine(sandbox: Sandbox) -> Iterator[sa.Engine]:
    yield sandbox.engine


def table_names(box: Sandbox) -> set[str]:
    return set(sa.inspect(box.engine).get_table_names())


def test_chain_is_linear_and_dated() -> None:
    revisions = migrate.revisions()
    assert [r.revision for r in revisions] == CHAIN
    for rev in revisions:
        name = rev.path.rsplit("/", 1)[-1]
        assert name.startswith("2024_04_16_"), name
        assert f"-{rev.revision}_" in name
        assert rev.module.__doc__ and "Why:" in rev.module.__doc__


def test_backfill_gives_unique_emails_and_downgrade_restores_nulls(
    sandbox: Sandbox,
) -> None:
    migrate.upgrade(sandbox, "71cc828891fc")
    users = sa.table(
        "users", sa.column("id"), sa.column("name"), sa.column("email")
    )
    rows = [{"id": i, "name": f"u{i}", "email": None} for i in range(1, 6)]
    rows.append({"id": 6, "name": "u6", "email": "u6@example.com"})
    with sandbox.engine.begin() as connection:
        connection.execute(users.insert(), rows)

    migrate.upgrade(sandbox, "cf30bc1d0ee8")
    with sandbox.engine.connect() as connection:
        emails = dict(
            connection.execute(sa.select(users.c.id, users.c.email)).all()
        )
    assert emails[1] == "unknown-1@example.invalid"
    assert emails[6] == "u6@example.com"
    assert len(set(emails.values())) == 6
    email = {
        c["name"]: c for c in sa.inspect(sandbox.engine).get_columns("users")
    }
    assert email["email"]["nullable"] is False

    migrate.downgrade(sandbox, "71cc828891fc")
    with sandbox.engine.connect() as connection:
        emails = dict(
            connection.execute(sa.select(users.c.id, users.c.email)).all()
        )
    assert [emails[i] for i in range(1, 6)] == [None] * 5
    assert emails[6] == "u6@example.com"


def test_batch_rebuild_keeps_child_rows(sandbox: Sandbox) -> None:
    """Dropping users.type rebuilds users on SQLite; addresses must survive."""
    migrate.upgrade(sandbox, "head")
    with sandbox.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO users (id, name, email) VALUES (1, 'a', 'a@x.io')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO addresses (email_address, user_id) "
                "VALUES ('a@home.io', 1), ('a@work.io', 1)"
            )
        )
    migrate.downgrade(sandbox, "3e2e15a5d823")
    with sandbox.engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM addresses"))
        assert count.scalar_one() == 2


def test_failing_revision_leaves_no_table_behind_on_sqlite(
    add_revision,
) -> None:
    from dblab import sandbox as sandboxes

    with sandboxes.create("halfway", migrations=True) as box:
        assert box.backend == "sqlite"
        migrate.upgrade(box, "head")
        add_revision(
            box,
            """
            op.create_table("leftover", sa.Column("id", sa.Integer))
            raise RuntimeError("boom")
            """,
        )
        with pytest.raises(MigrationError, match="boom") as caught:
            migrate.upgrade(box, "head")
        assert HEAD in str(caught.value)
        assert "leftover" not in table_names(box)
        assert migrate.current(box) == (HEAD,)


def test_default_sqlite_driver_keeps_the_half_done_table(add_revision) -> None:
    """The contrast: without the recipe SQLite does not roll back DDL."""
    from dblab import sandbox as sandboxes

    with sandboxes.create(
        "halfway_plain", migrations=True, transactional_sqlite=False
    ) as box:
        migrate.upgrade(box, "head")
        add_revision(
            box,
            """
            op.create_table("leftover", sa.Column("id", sa.Integer))
            raise RuntimeError("boom")
            """,
        )
        with pytest.raises(MigrationError):
            migrate.upgrade(box, "head")
        assert "leftover" in table_names(box)
        assert migrate.current(box) == (HEAD,)


def test_applied_revisions_are_unchanged() -> None:
    """migrations/versions.sum records the committed revision files."""
    from dblab import settings

    problems = migrate.verify_checksums(settings.MIGRATIONS / "versions")
    assert problems == [], "\n".join(problems)
