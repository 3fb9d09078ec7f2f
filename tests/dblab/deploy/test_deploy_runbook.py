"""``dblab deploy`` on SQLite, PostgreSQL and MariaDB.

Each test builds its own dev / staging / production (a private prefix and
migrations copy, production seeded with a few hundred rows) and drops
them afterwards. Production's fingerprint is the witness: it must not
move when the runbook stops, and must come back after a restore.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from dblab import cli, deploy, migrate, safety, targets
from dblab.checks import deploy_to_production as dp
from dblab.deploy.records import Records

USERS = 60


@pytest.fixture
def where(server, reused_targets) -> Iterator[targets.Targets]:
    """dev / staging / production, emptied and refilled for each test."""
    made = reused_targets(dp.make_targets, server, users=USERS)
    yield made
    made.close()


def fingerprints(where: targets.Targets) -> dict[str, safety.Fingerprint]:
    return {name: safety.fingerprint(where[name]) for name in targets.NAMES}


def index_names(target: targets.Target) -> set[str]:
    return {i["name"] for i in sa.inspect(target.engine).get_indexes("users")}


def identity_rows(where: targets.Targets) -> dict[str, targets.IdentityRow]:
    return {
        name: targets.read_identity(where.url(name)) for name in targets.NAMES
    }


def test_success_then_a_failed_rehearsal_leaves_production(where) -> None:
    production = where["production"]
    before = safety.fingerprint(production)
    rows = identity_rows(where)
    assert {n: r.environment for n, r in rows.items()} == {
        n: n for n in targets.NAMES
    }
    dp.add_revision(where, "INDEX")
    report = deploy.deploy(
        where=where, app=deploy.App(metadata=dp.metadata_with_index())
    )
    assert report.ok, report
    # The plan lints with the target's rules: on PostgreSQL an index
    # without CONCURRENTLY (LK101). No LK301: env.py sets lock timeouts.
    warned = {"postgresql": ["LK101"]}
    codes = sorted(f.code for f in report.plan.findings)
    assert codes == warned.get(where.backend, [])
    expected = ["ok", "warning" if codes else "ok", "ok", "ok", "ok", "ok"]
    assert [s.status for s in report.steps] == expected, report
    assert report.plan.pending == [dp.revision_id("INDEX")]
    assert migrate.current(production) == (dp.revision_id("INDEX"),)
    assert "ix_users_name" in index_names(production)
    changed = safety.fingerprint(production).differences(before)
    assert changed == ["alembic_version: 内容が違う (checksum differs)"]
    assert report.rehearsal.schema_changes == [
        "+ インデックス users.ix_users_name"
    ]
    (record,) = Records(where.folder / "rehearsals.json").read().values()
    assert record["ok"] and record["rows"]["users"] == before["users"].rows
    # The copy of production loaded into staging got staging's row back;
    # the kit table passed alembic check, the fingerprints, the schema.
    assert identity_rows(where) == rows

    dp.add_revision(where, "UNIQUE")
    deployed = safety.fingerprint(production)
    report = deploy.deploy(where=where, app=dp.app(dp.metadata_with_index()))
    assert not report.ok
    assert report.status("rehearse") == "failed"
    assert report.status("apply") == "skipped"
    assert "uq_users_name" in report.error or "UNIQUE" in report.error
    assert safety.fingerprint(production) == deployed
    assert migrate.current(production) == (dp.revision_id("INDEX"),)
    # Without a successful rehearsal, apply() refuses.
    book = deploy.Runbook(where, app=dp.app(dp.metadata_with_index()))
    with pytest.raises(
        deploy.DeployError, match="リハーサルが成功していません"
    ):
        book.apply(book.plan(), book.backup())
    assert safety.fingerprint(production) == deployed


def test_failed_apply_is_reported_and_restored_only_on_request(
    where,
) -> None:
    production = where["production"]
    before = safety.fingerprint(production)
    dp.add_revision(where, "FAIL_IN_PRODUCTION")
    report = deploy.deploy(where=where, app=dp.app(dp.metadata_with_index()))
    assert not report.ok
    assert report.status("rehearse") == "ok"
    assert report.status("apply") == "failed"
    assert not report.restored  # no dump restored over production
    assert "disk full" in report.error
    found = report.aftermath
    assert found.now == (dp.HEAD,) == migrate.current(production)
    assert found.committed == []
    assert found.backup is not None and found.backup.path.exists()
    assert f"--restore {found.backup.path}" in found.restore_command
    text = str(report)
    assert "復元するなら" in text and "失われる書き込み" in text
    if where.backend == "mysql":  # CREATE INDEX committed by itself
        assert "ix_users_name" in index_names(production)
        assert any("ix_users_name" in item for item in found.leftovers)
    else:  # the revision's transaction rolled back
        assert "ix_users_name" not in index_names(production)
        assert found.leftovers == []
        assert safety.fingerprint(production) == before
        assert found.discards is not None and not found.discards
    restored = deploy.deploy(where=where, restore=found.backup.path)
    assert restored.ok and restored.restored, restored
    assert restored.discarded is not None
    assert safety.fingerprint(production) == before
    assert "ix_users_name" not in index_names(production)


def test_dry_run_changes_nothing_and_rollback_on_request(where) -> None:
    dp.add_revision(where, "INDEX")
    before = fingerprints(where)
    report = deploy.deploy(
        where=where, dry_run=True, app=dp.app(dp.metadata_with_index())
    )
    assert report.ok, report
    assert report.rehearsal.ok
    assert "CREATE INDEX ix_users_name" in report.plan.sql
    assert report.status("apply") == "skipped"
    assert fingerprints(where) == before
    assert not (where.folder / "rehearsals.json").exists()
    assert migrate.current(where["production"]) == (dp.HEAD,)

    report = deploy.deploy(where=where, app=dp.app(dp.metadata_with_index()))
    assert report.ok, report
    report = deploy.deploy(where=where, rollback_to=dp.HEAD)
    assert report.ok, report
    assert migrate.current(where["production"]) == (dp.HEAD,)
    assert "ix_users_name" not in index_names(where["production"])


def test_dirty_production_is_refused(where) -> None:
    production = where["production"]
    dp.add_revision(where, "INDEX")
    with production.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE alembic_version SET version_num = 'feedbeef0000'")
        )
    before = fingerprints(where)
    with pytest.raises(deploy.DeployError, match="feedbeef0000"):
        deploy.deploy(where=where)
    assert fingerprints(where) == before
    with production.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE alembic_version SET version_num = :head"),
            {"head": dp.HEAD},
        )
        connection.execute(sa.text("CREATE INDEX ix_by_hand ON users (age)"))
    before = fingerprints(where)
    with pytest.raises(deploy.DeployError, match="ix_by_hand"):
        deploy.deploy(where=where)
    assert fingerprints(where) == before
    assert migrate.current(production) == (dp.HEAD,)


@pytest.mark.parametrize("backend", ["sqlite"])  # no database is touched
def test_bad_target_and_same_url(where, capsys) -> None:
    with pytest.raises(targets.TargetError, match="unknown target"):
        deploy.deploy("prod", where=where)
    assert cli.main(["deploy", "--target", "prod"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("dblab deploy: ターゲット 'prod' はありません")
    assert len(error.splitlines()) == 1
    same = targets.Targets(
        server=where.server,
        prefix=where.prefix,
        migrations=where.migrations,
        urls={"staging": where.url("production")},
    )
    before = safety.fingerprint(where["production"])
    with pytest.raises(deploy.DeployError, match="同じデータベース"):
        deploy.deploy(where=same)
    same.close()
    assert safety.fingerprint(where["production"]) == before


@pytest.mark.parametrize("backend", ["sqlite"])
def test_env_py_resolves_a_target(where, monkeypatch) -> None:
    monkeypatch.setenv("DBLAB_TARGET_PREFIX", where.prefix)
    url = targets.url("production", server=where.server)
    assert url == where.url("production")
    cfg = migrate.config(script_location=where.migrations)
    cfg.cmd_opts = type("Options", (), {"x": ["target=production"]})()
    dp.add_revision(where, "INDEX")
    from alembic import command

    command.upgrade(cfg, "heads")
    where["production"].engine.dispose()
    assert migrate.current(where["production"]) == (dp.revision_id("INDEX"),)
    assert migrate.current(where["staging"]) == (dp.HEAD,)
    cfg.cmd_opts = type("Options", (), {"x": ["target=nowhere"]})()
    with pytest.raises(Exception, match="unknown target"):
        command.upgrade(cfg, "heads")


@pytest.mark.parametrize("backend", ["sqlite"])  # read_identity: all three
def test_targets_of_an_older_kit_without_identity_rows(where) -> None:
    for name in ("production", "staging"):
        with where[name].engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE dblab_target_identity"))
    dp.add_revision(where, "INDEX")
    report = deploy.deploy(where=where, app=dp.app(dp.metadata_with_index()))
    assert report.ok, report
    assert "識別行なし (production, staging" in report.steps[0].detail
    rows = identity_rows(where)
    assert rows["production"] is None  # not written behind the owner's back
    assert rows["staging"].environment == "staging"  # the kit's copy


CONCURRENT_INDEX = '''"""index users.name concurrently (UNIQUE on production)

Revision ID: 9a1e0c3d5bc1
"""
from alembic import op

revision = "9a1e0c3d5bc1"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade():
    live = not op.get_context().as_sql
    name = op.get_bind().engine.url.database if live else ""
    unique = "UNIQUE " if "production" in (name or "") else ""
    with op.get_context().autocommit_block():
        op.execute(
            f"CREATE {{unique}}INDEX CONCURRENTLY ix_users_name "
            "ON users (name)"
        )


def downgrade():
    op.execute("DROP INDEX ix_users_name")
'''


@pytest.mark.parametrize("backend", ["postgresql"])  # CONCURRENTLY
def test_a_failed_concurrent_build_is_reported_as_a_leftover(where) -> None:
    """Two users share a name: the UNIQUE build fails on production only
    and leaves an INVALID index, which the report names."""
    users = sa.table("users", sa.column("name"), sa.column("email"))
    with where["production"].engine.begin() as connection:
        connection.execute(
            sa.insert(users),
            [
                {"name": "同名", "email": f"twin{i}@example.com"}
                for i in (1, 2)
            ],
        )
    path = where.migrations / "versions" / "2024_06_02_0000-9a1e0c3d5bc1_c.py"
    path.write_text(CONCURRENT_INDEX.format(head=dp.HEAD), encoding="utf-8")
    report = deploy.deploy(where=where, app=dp.app(dp.metadata_with_index()))
    assert not report.ok and not report.restored
    assert report.status("rehearse") == "ok"
    assert report.status("apply") == "failed"
    found = report.aftermath
    assert found.committed == [] and found.now == (dp.HEAD,)
    assert "INVALID index ix_users_name" in found.leftovers
    assert "INVALID index ix_users_name" in str(report)
    assert "CREATE UNIQUE INDEX CONCURRENTLY" in (found.statement or "")
