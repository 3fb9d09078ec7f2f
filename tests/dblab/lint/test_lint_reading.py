"""Revisions read as real code writes them: keyword arguments, constants,
``op.f()``, batch blocks, SQL text and Core statements wherever they are
executed, helper functions, and blocks for one database only."""

from __future__ import annotations

import pytest


def details(found, code):
    return [f.detail for f in found if f.code == code]


def test_keyword_only_calls_are_read_not_crashed_on(versions) -> None:
    path = versions.add(
        "kw0000000001",
        """
        with op.batch_alter_table(table_name="combos") as batch_op:
            batch_op.drop_column(column_name="products")
        op.drop_column(table_name="users", column_name="age")
        op.alter_column(table_name="users", column_name="name",
                        new_column_name="full_name")
        """,
    )
    found = versions.findings(path)
    assert details(found, "DS103") == ["products", "age"]
    assert details(found, "BC102") == ["name"]


def test_module_constants_and_op_f_name_the_objects(versions) -> None:
    path = versions.add(
        "const0000001",
        "op.drop_column(TABLE, COLUMN)\nop.create_index(op.f('ix_u'), TABLE, [COLUMN])",
        top='TABLE = "users"\nCOLUMN: str = "nickname"\n',
    )
    found = versions.findings(path)
    assert details(found, "DS103") == ["nickname"]
    assert details(found, "LK101") == ["users"]


@pytest.mark.parametrize(
    "execute",
    [
        'op.execute("UPDATE users SET age = 0")',
        'op.execute(sa.text(f"UPDATE users SET age = {DEFAULT}"))',
        'conn = op.get_bind()\nconn.execute(sa.text("UPDATE users SET age = 0"))',
        'sql = "UPDATE users SET age = 0"\nop.get_bind().execute(sa.text(sql))',
        "statement = users.update().values(age=0)\nop.get_bind().execute(statement)",
        "op.execute(sa.update(users).values(age=0))",
        "session = sa.orm.Session(bind=op.get_bind())\n"
        "session.query(User).update({User.age: 0})",
        "session = sa.orm.Session(bind=op.get_bind())\n"
        "for user in session.query(User).all():\n    user.age = 0",
        "op.execute('UPDATE users SET age = 0 WHERE 1=1')",
        "op.execute('UPDATE users SET age = (SELECT 0 FROM t WHERE t.id = 1)')",
        "op.execute(users.update().values(age=sa.select(t.c.x).where(t.c.id == users.c.id).scalar_subquery()))",
    ],
)
def test_every_unbounded_update_is_seen(versions, execute) -> None:
    top = (
        'DEFAULT = 0\nusers = sa.table("users", sa.column("age"))\n'
        't = sa.table("t", sa.column("x"), sa.column("id"))\n'
        'class User:\n    __tablename__ = "users"\n'
    )
    path = versions.add("upd000000001", execute, top=top)
    assert details(versions.findings(path), "MF201") == ["users"]


@pytest.mark.parametrize(
    "execute",
    [
        "op.execute('UPDATE users SET age = 0 WHERE age IS NULL')",
        "op.execute(users.update().where(users.c.age.is_(None)).values(age=0))",
        "session = sa.orm.Session(bind=op.get_bind())\n"
        "session.query(User).filter(User.age.is_(None)).update({User.age: 0})",
        "op.execute('SELECT count(*) FROM users')",
    ],
)
def test_a_top_level_where_bounds_the_update(versions, execute) -> None:
    top = 'users = sa.table("users", sa.column("age"))\nclass User:\n    __tablename__ = "users"\n'
    path = versions.add("upd000000002", execute, top=top)
    assert "MF201" not in versions.codes(path)


@pytest.mark.parametrize(
    ("sql", "code", "dialects"),
    [
        (
            "CREATE INDEX ix_users_name ON users (name)",
            "LK101",
            ("postgresql",),
        ),
        (
            "ALTER TABLE users ADD COLUMN nick VARCHAR(20) NOT NULL",
            "MF103",
            (),
        ),
        (
            "ALTER TABLE users ALTER COLUMN id TYPE BIGINT",
            "RW101",
            ("postgresql",),
        ),
        (
            "ALTER TABLE users ALTER COLUMN email SET NOT NULL",
            "LK104",
            ("postgresql", "mysql"),
        ),
        ("ALTER TABLE slices MODIFY params MEDIUMTEXT", "RW101", ("mysql",)),
        (
            "ALTER TABLE users ADD COLUMN id2 BIGSERIAL PRIMARY KEY",
            "RW102",
            ("postgresql", "mysql"),
        ),
        (
            "ALTER TABLE a ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users (id)",
            "LK102",
            ("postgresql", "mysql"),
        ),
        ("DROP TABLE IF EXISTS old_logs", "DS102", ()),
    ],
)
def test_ddl_written_as_sql_is_read(versions, sql, code, dialects) -> None:
    path = versions.add("raw000000001", f"op.execute({sql!r})")
    found = [f for f in versions.findings(path) if f.code == code]
    assert found, [str(f) for f in versions.findings(path)]
    assert found[0].dialects == dialects


def test_concurrent_index_in_sql_is_safe(versions) -> None:
    path = versions.add(
        "raw000000002",
        "with op.get_context().autocommit_block():\n"
        "    op.execute('CREATE INDEX CONCURRENTLY ix_u ON users (name)')",
    )
    assert "LK101" not in versions.codes(path)


def test_a_block_for_another_database_is_not_linted_for_ours(versions) -> None:
    path = versions.add(
        "guard0000001",
        """
        conn = op.get_bind()
        if conn.dialect.name == "mssql":
            op.drop_column("users", "age")
        if isinstance(conn.dialect, MySQLDialect):
            op.execute("ALTER TABLE users MODIFY bio MEDIUMTEXT")
        else:
            op.create_index("ix_u", "users", ["name"])
        if conn.dialect.name != "postgresql":
            return
        op.alter_column("users", "id", existing_type=sa.Integer(), type_=sa.BigInteger())
        """,
        imports="from sqlalchemy.dialects.mysql.base import MySQLDialect\n",
    )
    found = versions.findings(path)
    assert "DS103" not in {f.code for f in found}
    by_code = {f.code: f.dialects for f in found}
    assert by_code["RW101"] == ("postgresql",)
    assert by_code["LK101"] == ("postgresql",)
    assert [f.dialects for f in found if f.code == "RW101"] == [
        ("mysql",),
        ("postgresql",),
    ]


def test_helper_functions_called_from_upgrade_are_read(versions) -> None:
    path = versions.add(
        "help00000001",
        "_drop_legacy(op)",
        top="\n\ndef _drop_legacy(op):\n    op.drop_table('legacy')\n",
    )
    assert details(versions.findings(path), "DS102") == ["legacy"]


def test_dialect_types_limit_the_finding(versions) -> None:
    path = versions.add(
        "type00000001",
        "op.alter_column('datasets', 'schema', existing_type=sa.TEXT, type_=MEDIUMTEXT)",
        imports="from sqlalchemy.dialects.mysql import MEDIUMTEXT\n",
    )
    found = [f for f in versions.findings(path) if f.code == "RW101"]
    assert [f.dialects for f in found] == [("mysql",)]


def test_quoted_names_in_sql_are_names_not_strings(versions) -> None:
    path = versions.add(
        "quot00000001",
        'op.execute(\'UPDATE "users" SET "email" = \\\'a=b\\\' WHERE "email" IS NULL\')\n'
        "op.alter_column('users', 'email', existing_type=sa.String(120), nullable=False)",
        head="# dblab-lint: ignore[MG201] fixture\n",
    )
    codes = versions.codes(path)
    assert "MF104" not in codes and "MF201" not in codes


def test_a_loop_over_names_is_read_for_each_name(versions) -> None:
    path = versions.add(
        "loop00000001",
        """
        for table, column in COLUMNS:
            op.alter_column(table_name=table, column_name=column, type_=sa.TIMESTAMP(timezone=True))
        for name in ("a", "b"):
            op.drop_column("users", name)
        """,
        top='COLUMNS = [("dag_run", "start_date"), ("dag_run", "end_date"), ("job", "start_date")]\n',
    )
    found = versions.findings(path)
    assert details(found, "RW101") == ["start_date", "end_date", "start_date"]
    assert details(found, "DS103") == ["a", "b"]
