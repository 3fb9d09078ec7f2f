"""The kit's Alembic chain on SQLite, PostgreSQL and MariaDB.

pytest-alembic's built-in tests run against a sandbox of each backend;
the kit's own tests add what those do not cover: data surviving each
step, the half-way failure, an unknown revision, offline SQL.
"""

from __future__ import annotations

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


def email_not_null_module():
    (rev,) = [
        r
        for r in migrate.revisions()
        if r.revision == revisions.EMAIL_NOT_NULL
    ]
    return rev.module


def test_backfill_walks_every_batch(sandbox: Sandbox) -> None:
    """More NULL rows than one batch: each batch is filled, none twice."""
    migrate.upgrade(sandbox, revisions.AGE_ADDED)
    size = email_not_null_module().BATCH_SIZE
    count = 2 * size + 7
    users = sa.table(
        "users", sa.column("id"), sa.column("name"), sa.column("email")
    )
    rows = [
        {"id": i, "name": f"u{i}", "email": None} for i in range(1, count + 1)
    ]
    with sandbox.engine.begin() as connection:
        connection.execute(users.insert(), rows)
    migrate.upgrade(sandbox, revisions.EMAIL_NOT_NULL)
    with sandbox.engine.connect() as connection:
        emails = connection.execute(sa.select(users.c.email)).scalars().all()
    assert len(emails) == count
    assert len(set(emails)) == count
    assert all(e.startswith("unknown-") for e in emails)


def statements(sql: str) -> list[str]:
    """The statements of offline SQL, comments left out."""
    lines = [line for line in sql.splitlines() if not line.startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def test_offline_postgresql_not_null_has_no_scan_under_the_lock() -> None:
    """NOT VALID -> backfill -> VALIDATE -> SET NOT NULL -> drop, each
    committed on its own (outside any BEGIN)."""
    sql = migrate.offline_sql(
        None,
        f"{revisions.AGE_ADDED}:{revisions.EMAIL_NOT_NULL}",
        url=sa.make_url("postgresql+psycopg://u@127.0.0.1/db"),
    )
    steps = statements(sql)
    add = next(i for i, s in enumerate(steps) if "NOT VALID" in s)
    fill = next(i for i, s in enumerate(steps) if s.startswith("UPDATE users"))
    validate = next(i for i, s in enumerate(steps) if "VALIDATE" in s)
    set_nn = next(i for i, s in enumerate(steps) if "SET NOT NULL" in s)
    drop = max(i for i, s in enumerate(steps) if "DROP CONSTRAINT" in s)
    assert add < fill < validate < set_nn < drop
    assert "CHECK (email IS NOT NULL) NOT VALID" in steps[add]
    # No BEGIN between the COMMIT before the ADD and the last step: each
    # statement is its own transaction.
    assert steps[add - 2] == "COMMIT"
    assert "BEGIN" not in steps[add - 1 : drop + 1]
    assert steps[drop + 1] == "BEGIN"


def test_offline_mariadb_not_null_asks_for_an_online_rebuild() -> None:
    sql = migrate.offline_sql(
        None,
        f"{revisions.AGE_ADDED}:{revisions.EMAIL_NOT_NULL}",
        url=sa.make_url("mysql+pymysql://u@127.0.0.1/db"),
    )
    steps = statements(sql)
    fill = next(i for i, s in enumerate(steps) if s.startswith("UPDATE users"))
    alter = next(i for i, s in enumerate(steps) if "NOT NULL" in s)
    assert fill < alter
    assert steps[alter].endswith("ALGORITHM=INPLACE, LOCK=NONE")


@pytest.mark.parametrize("backend", ["postgresql"])
def test_not_null_runs_again_after_dying_half_way(sandbox: Sandbox) -> None:
    """A run that died after the NOT VALID check left it behind (nothing
    stamped): the next run drops it and completes."""
    migrate.upgrade(sandbox, revisions.AGE_ADDED)
    name = email_not_null_module().CHECK_NAME
    with sandbox.engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO users (id, name) VALUES (1, 'a')")
        )
        connection.execute(
            sa.text(
                f"ALTER TABLE users ADD CONSTRAINT {name} "
                "CHECK (email IS NOT NULL) NOT VALID"
            )
        )
    migrate.upgrade(sandbox, revisions.EMAIL_NOT_NULL)
    checks = sa.inspect(sandbox.engine).get_check_constraints("users")
    assert [c["name"] for c in checks] == []
    assert migrate.current(sandbox) == (revisions.EMAIL_NOT_NULL,)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_not_valid_check_refuses_a_new_null_at_once(sandbox: Sandbox) -> None:
    """The adversary: the old app inserting a NULL email while the backfill
    runs. Once the NOT VALID check is in, PostgreSQL refuses the row, so
    VALIDATE cannot meet a NULL the backfill missed."""
    migrate.upgrade(sandbox, revisions.AGE_ADDED)
    name = email_not_null_module().CHECK_NAME
    with sandbox.engine.begin() as connection:
        connection.execute(
            sa.text(
                f"ALTER TABLE users ADD CONSTRAINT {name} "
                "CHECK (email IS NOT NULL) NOT VALID"
            )
        )
    with pytest.raises(sa.exc.IntegrityError, match=name):
        with sandbox.engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO users (id, name) VALUES (2, 'old app')")
            )


def old_app_writes_null_before(box: Sandbox, marker: str) -> list[str]:
    """The adversary: the old app inserts a user without an email just
    before the statement containing ``marker`` runs. Returns what befell
    each insert ("ok" or the error class)."""
    outcomes: list[str] = []

    def before(conn, cursor, statement, parameters, context, many):
        if marker not in statement or outcomes:
            return
        try:
            with box.engine.begin() as other:
                other.execute(
                    sa.text(
                        "INSERT INTO users (id, name) VALUES (900001, 'old')"
                    )
                )
            outcomes.append("ok")
        except sa.exc.DBAPIError as error:
            outcomes.append(type(error).__name__)

    sa.event.listen(box.engine, "before_cursor_execute", before)
    return outcomes


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_null_written_during_the_upgrade_is_refused_on_postgresql(
    sandbox: Sandbox,
) -> None:
    migrate.upgrade(sandbox, revisions.AGE_ADDED)
    outcomes = old_app_writes_null_before(sandbox, "VALIDATE CONSTRAINT")
    migrate.upgrade(sandbox, revisions.EMAIL_NOT_NULL)
    assert outcomes == ["IntegrityError"]
    assert migrate.current(sandbox) == (revisions.EMAIL_NOT_NULL,)


@pytest.mark.parametrize("backend", ["mysql"])
def test_a_null_written_before_the_alter_fails_it_on_mariadb_then_rerun(
    sandbox: Sandbox,
) -> None:
    """MariaDB has no NOT VALID: a NULL slipping in after the backfill
    makes the online ALTER fail; nothing is stamped, and running the
    upgrade again backfills it and completes."""
    migrate.upgrade(sandbox, revisions.AGE_ADDED)
    outcomes = old_app_writes_null_before(sandbox, "MODIFY email")
    with pytest.raises(MigrationError, match="1265|truncated"):
        migrate.upgrade(sandbox, revisions.EMAIL_NOT_NULL)
    assert outcomes == ["ok"]
    assert migrate.current(sandbox) == (revisions.AGE_ADDED,)
    migrate.upgrade(sandbox, revisions.EMAIL_NOT_NULL)
    with sandbox.engine.connect() as connection:
        email = connection.execute(
            sa.text("SELECT email FROM users WHERE id = 900001")
        ).scalar_one()
    assert email == "unknown-900001@example.invalid"
