"""Each cause of a false positive found on real projects, as a fixture:
the linter must stay quiet on it (and still speak on the risky twin)."""

from __future__ import annotations

import pytest

NOT_NULL = "op.alter_column('users', 'email', existing_type=sa.String(120), nullable=False)"
TOP = 'users = sa.table("users", sa.column("email"))\nclass User:\n    __tablename__ = "users"\n'


@pytest.mark.parametrize(
    "backfill",
    [
        "op.get_bind().execute(sa.text(\"UPDATE users SET email = 'x' WHERE email IS NULL\"))",
        "conn = op.get_bind()\n"
        "conn.execute(users.update().where(users.c.email.is_(None)).values(email='x'))",
        "session = sa.orm.Session(bind=op.get_bind())\n"
        "for user in session.query(User).filter(User.email.is_(None)):\n"
        "    user.email = 'x'\nsession.commit()",
        "_fill_emails()",
        "columns = {'email': 'x'}\n"
        "op.execute(users.update().where(users.c.email.is_(None))"
        ".values(**columns))",
    ],
    ids=["get_bind", "connection_core", "session_loop", "helper", "splat"],
)
def test_a_backfill_wherever_it_is_run_counts(versions, backfill) -> None:
    top = TOP + (  # noqa: S608 - fixture revision text, not a query
        "\n\ndef _fill_emails():\n"
        "    op.execute(\"UPDATE users SET email = 'x' WHERE email IS NULL\")\n"
    )
    head = "# dblab-lint: ignore[MG201] fixture: backfill and ALTER together\n"
    path = versions.add(
        "fill00000001", backfill + "\n" + NOT_NULL, top=top, head=head
    )
    assert "MF104" not in versions.codes(path)
    bare = versions.add("bare00000001", NOT_NULL, top=top)
    assert "MF104" in versions.codes(bare)


def test_existing_nullable_false_is_no_change_to_not_null(versions) -> None:
    path = versions.add(
        "exis00000001",
        "with op.batch_alter_table('params') as batch_op:\n"
        "    batch_op.alter_column('value', existing_type=sa.String(250),\n"
        "        type_=sa.String(500), existing_nullable=False, nullable=False)",
    )
    codes = versions.codes(path)
    assert "MF104" not in codes and "LK104" not in codes
    assert "RW101" not in codes  # VARCHAR 250 → 500 grows in place on both


def test_a_column_created_not_null_in_the_chain_is_no_change(versions) -> None:
    versions.add(
        "crea00000001",
        "op.create_table('runs', sa.Column('id', sa.Integer(), primary_key=True),\n"
        "    sa.Column('status', sa.String(20), nullable=False))",
    )
    path = versions.add(
        "alte00000002",
        "op.alter_column('runs', 'status', type_=sa.String(30), nullable=False)",
        down="crea00000001",
    )
    assert "MF104" not in versions.codes(path)


@pytest.mark.parametrize(
    "downs", [("aaa000000001", "bbb000000001"), None], ids=["merge", "no-op"]
)
def test_merge_and_no_op_revisions_may_have_empty_downgrades(
    versions, downs
) -> None:
    path = versions.add("merg00000001", "pass", down=downs, downgrade="pass")
    assert "MG102" not in versions.codes(path)


def test_a_scratch_column_added_and_dropped_loses_nothing(versions) -> None:
    path = versions.add(
        "scra00000001",
        "op.add_column('users', sa.Column('tmp_email', sa.String(120)))\n"
        "op.execute('UPDATE users SET tmp_email = lower(email) WHERE id > 0')\n"
        "op.drop_column('users', 'tmp_email')",
        head="# dblab-lint: ignore[MG201] fixture\n",
    )
    assert "DS103" not in versions.codes(path)


def test_a_table_rebuilt_and_renamed_into_place_is_not_dropped(
    versions,
) -> None:
    path = versions.add(
        "rebu00000001",
        """
        op.create_table("ab_view_menu_tmp", sa.Column("id", sa.Integer(), primary_key=True))
        op.execute("INSERT INTO ab_view_menu_tmp (id) SELECT id FROM ab_view_menu")
        op.drop_table("ab_view_menu")
        op.rename_table("ab_view_menu_tmp", "ab_view_menu")
        """,
    )
    codes = versions.codes(path)
    assert (
        "DS102" not in codes and "BC101" not in codes and "MG201" not in codes
    )


def test_rows_for_a_table_created_here_are_not_mixed_data(versions) -> None:
    path = versions.add(
        "seed00000001",
        "roles = op.create_table('roles', sa.Column('id', sa.Integer(), primary_key=True))\n"
        "op.bulk_insert(roles, [{'id': 1}])",
    )
    assert versions.codes(path) == []


def test_a_project_without_downgrades_by_policy(versions) -> None:
    (versions.folder.parent / "script.py.mako").write_text(
        '"""${message}"""\nrevision = ${repr(up_revision)}\n\ndef upgrade():\n    ${upgrades}\n'
    )
    path = versions.add(
        "pol000000001",
        "op.create_table('a', sa.Column('id', sa.Integer()))",
        downgrade=None,
    )
    assert "MG101" not in versions.codes(path)


def test_branch_labels_make_intentional_heads(versions) -> None:
    versions.add("root00000001", "pass", downgrade="pass")
    versions.add(
        "expa00000001",
        "pass",
        down="root00000001",
        labels="expand",
        downgrade="pass",
    )
    versions.add(
        "cont00000001",
        "pass",
        down="root00000001",
        labels=("contract",),
        downgrade="pass",
    )
    versions.add("expa00000002", "pass", down="expa00000001", downgrade="pass")
    assert "MG301" not in versions.codes()
    versions.add("expa00000003", "pass", down="expa00000001", downgrade="pass")
    forks = [f for f in versions.findings() if f.code == "MG301"]
    assert [f.detail for f in forks] == ["expa00000002, expa00000003"]


def test_env_py_lock_timeout_credits_every_revision(versions) -> None:
    path = versions.add(
        "lock00000001", "op.add_column('users', sa.Column('x', sa.Integer()))"
    )
    assert "LK301" in versions.codes(path)
    (versions.folder.parent / "env.py").write_text(
        "def run():\n    connection.exec_driver_sql(\"SET lock_timeout = '5s'\")\n"
    )
    found = [f for f in versions.findings(path) if f.code == "LK301"]
    assert [f.dialects for f in found] == [("mysql",)]


def test_a_lock_timeout_only_mentioned_in_env_py_credits_nothing(
    versions,
) -> None:
    path = versions.add(
        "lock00000002", "op.add_column('users', sa.Column('x', sa.Integer()))"
    )
    (versions.folder.parent / "env.py").write_text(
        '"""A lock_timeout would go here."""\n'
        "# TODO: SET lock_timeout / lock_wait_timeout\n"
        "def run():\n    pass\n"
    )
    found = [f for f in versions.findings(path) if f.code == "LK301"]
    assert [f.dialects for f in found] == [("postgresql", "mysql")]


def test_an_empty_downgrade_with_its_reason_in_a_comment(versions) -> None:
    body = (
        "op.execute(\"UPDATE slices SET params = '{}' WHERE params IS NULL\")"
    )
    path = versions.add(
        "why000000001", body, downgrade="# slices can't be downgraded\npass"
    )
    assert "MG102" not in versions.codes(path)
    generated = versions.add(
        "gen000000001",
        body,
        downgrade="# ### commands auto generated by Alembic ###\npass",
    )
    assert "MG102" in versions.codes(generated)


def test_a_rebuild_in_sql_is_no_rename(versions) -> None:
    path = versions.add(
        "swap00000001",
        """
        conn = op.get_bind()
        conn.execute(sa.text("CREATE TABLE dag_run_new (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO dag_run_new SELECT * FROM dag_run"))
        conn.execute(sa.text("DROP TABLE dag_run"))
        conn.execute(sa.text("ALTER TABLE dag_run_new RENAME TO dag_run"))
        """,
    )
    codes = versions.codes(path)
    assert "BC101" not in codes and "DS102" not in codes


def test_a_planned_move_of_data_is_no_autogenerate_rename(versions) -> None:
    path = versions.add(
        "move00000001",
        """
        op.add_column("task_reschedule", sa.Column("run_id", sa.String(250)))
        op.execute(_fill(ti, ti.c.run_id))
        op.drop_column("task_reschedule", "execution_date")
        """,
        top="ti = sa.table('task_reschedule', sa.column('run_id'))\n\n\n"
        "def _fill(target, column):\n    return target.update().values({column: sa.text('1')})\n",
        head="# dblab-lint: ignore[MG201, MF201] fixture\n",
    )
    assert "BC103" not in versions.codes(path)


def test_session_is_not_a_reserved_word(versions) -> None:
    path = versions.add(
        "sess00000001",
        "op.create_table('session', sa.Column('id', sa.Integer()))",
    )
    assert versions.codes(path) == []


def test_a_docstring_reason_counts_and_a_template_docstring_does_not(
    versions,
) -> None:
    body = 'op.execute("UPDATE dag SET x = 0 WHERE x IS NULL")'
    why = versions.add(
        "doc000000001",
        body,
        downgrade='"""NO downgrade: this only makes the ORM consistent."""',
    )
    assert "MG102" not in versions.codes(why)
    template = versions.add(
        "doc000000002", body, downgrade='"""Unapply fix x."""'
    )
    assert "MG102" in versions.codes(template)


def test_columns_replaced_by_unrelated_ones_are_no_rename(versions) -> None:
    path = versions.add(
        "refa00000001",
        """
        with op.batch_alter_table("alerts") as batch_op:
            batch_op.add_column(sa.Column("changed_by_fk", sa.Integer()))
            batch_op.add_column(sa.Column("changed_on", sa.DateTime()))
            batch_op.drop_column("database_id")
        """,
    )
    assert "BC103" not in versions.codes(path)


def test_lock_timeout_is_reported_once_for_each_database(versions) -> None:
    path = versions.add(
        "twob00000001",
        """
        if op.get_bind().dialect.name == "mysql":
            op.alter_column("dag", "ts", type_=sa.DateTime())
        else:
            op.alter_column("dag", "ts", type_=sa.TIMESTAMP(timezone=True))
            op.alter_column("dag", "ts2", type_=sa.TIMESTAMP(timezone=True))
        """,
    )
    found = [f.dialects for f in versions.findings(path) if f.code == "LK301"]
    assert found == [("mysql",), ("postgresql",)]


def test_timestamptz_under_a_utc_session_is_no_rewrite_on_postgresql(
    versions,
) -> None:
    change = "op.alter_column(table_name='dag', column_name='ts', type_=sa.TIMESTAMP(timezone=True))"
    plain = versions.add("tz0000000001", change)
    assert [
        f.dialects for f in versions.findings(plain) if f.code == "RW101"
    ] == [("postgresql", "mysql")]
    utc = versions.add(
        "tz0000000002",
        'conn = op.get_bind()\nconn.execute(sa.text("set timezone=UTC"))\n'
        + change,
    )
    assert [
        f.dialects for f in versions.findings(utc) if f.code == "RW101"
    ] == [("mysql",)]
