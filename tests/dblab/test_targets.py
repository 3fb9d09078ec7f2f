"""dblab.targets: named deploy targets, one database each, never dropped
by ``close()``."""

from __future__ import annotations

import re
import secrets
import shutil

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from dblab import (
    migrate,
    revisions,
    safety,
    schema,
    servers,
    settings,
    targets,
)
from dblab.batching.progress import PROGRESS
from dblab.errors import DblabError
from dblab.sandbox import Sandbox


@pytest.fixture
def where(server: URL, tmp_path, monkeypatch) -> targets.Targets:
    monkeypatch.setenv("DBLAB_WORK_DIR", str(tmp_path))
    made = targets.Targets(
        server=server, prefix=f"dblab_t{secrets.token_hex(4)}"
    )
    yield made
    made.drop()


def test_default_prefix_carries_the_login(monkeypatch) -> None:
    monkeypatch.delenv("DBLAB_TARGET_PREFIX", raising=False)
    url = URL.create("postgresql+psycopg", username="Learner01", database="x")
    assert targets.prefix(url) == "dblab_learner01_target"
    assert targets.url("production", server=url).database == (
        "dblab_learner01_target_production"
    )
    assert targets.Targets(server=url).prefix == "dblab_learner01_target"


def test_prefix_override_is_checked(monkeypatch) -> None:
    monkeypatch.setenv("DBLAB_TARGET_PREFIX", "Bad Prefix!")
    with pytest.raises(DblabError, match="DBLAB_TARGET_PREFIX"):
        targets.prefix()


def test_unknown_name_is_one_line() -> None:
    with pytest.raises(DblabError) as caught:
        targets.check_name("prod")
    assert "dev / staging / production" in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


def test_target_and_sandbox_are_siblings() -> None:
    assert not issubclass(targets.Target, Sandbox)
    assert issubclass(targets.Target, servers.KitDatabase)
    assert issubclass(Sandbox, servers.KitDatabase)


def test_create_close_keeps_the_database(where: targets.Targets) -> None:
    assert not where.exists("dev")
    dev = where.create("dev")
    assert where.exists("dev")
    with dev.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE kept (id INTEGER)"))
    dev.close()
    assert where.exists("dev")
    assert "kept" in sa.inspect(where["dev"].engine).get_table_names()
    assert repr(dev).startswith("Target('dev'")


def test_create_again_empties_the_database(where: targets.Targets) -> None:
    with where.create("staging").engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE old (id INTEGER)"))
    staging = where.create("staging")
    assert sa.inspect(staging.engine).get_table_names() == []


def test_drop_removes_the_three(where: targets.Targets) -> None:
    for name in targets.NAMES:
        where.create(name)
    where.drop()
    assert not any(where.exists(name) for name in targets.NAMES)


def test_migrate_uses_the_target_sets_migrations_copy(
    where: targets.Targets,
) -> None:
    shutil.copytree(settings.MIGRATIONS, where.folder / "migrations")
    assert migrate.upgrade(where.create("dev"), "head") == (revisions.HEAD,)
    assert migrate.config(where["dev"]).get_main_option(
        "script_location"
    ) == str(where.folder / "migrations")


def test_identity_row_is_written_read_and_hidden_from_the_app(
    where: targets.Targets,
) -> None:
    """The row is the kit's: alembic check, fingerprints and schema
    pictures leave kit tables (``dblab_*``) out."""
    url = where.url("dev")
    assert targets.read_identity(url) is None  # nothing made by looking
    assert not where.exists("dev")
    dev = where.create("dev")
    migrate.upgrade(dev, "head")
    assert targets.read_identity(url) is None  # a target of an older kit
    row = targets.write_identity(dev.engine, "dev")
    PROGRESS.create(dev.engine)
    assert targets.read_identity(url) == row
    assert (row.environment, len(row.id)) == ("dev", 32)
    tables = set(sa.inspect(dev.engine).get_table_names())
    assert {"dblab_target_identity", "dblab_batch_progress"} <= tables
    assert migrate.check(dev) is None
    unfiltered = where.folder / "unfiltered"  # the test can fail:
    shutil.copytree(settings.MIGRATIONS, unfiltered)
    env = unfiltered / "env.py"
    text = env.read_text(encoding="utf-8")
    env.write_text(text.replace('"include_name": include_name,', ""))
    drift = migrate.check(dev, script_location=unfiltered) or ""
    assert "dblab_target_identity" in drift
    assert not any(servers.kit_table(t) for t in safety.fingerprint(dev))
    assert not any(
        servers.kit_table(t) for t in schema.snapshot(dev.engine).tables
    )
    # Written again: one row, a new id (prepare() on an emptied target).
    assert targets.write_identity(dev.engine, "dev").id != row.id
    with dev.engine.connect() as connection:
        count = sa.select(sa.func.count()).select_from(targets.IDENTITY)
        assert connection.execute(count).scalar() == 1


def test_env_py_hides_the_kits_tables_by_the_same_prefix() -> None:
    """migrations/env.py may not import dblab: its prefix is a copy."""
    source = (settings.MIGRATIONS / "env.py").read_text(encoding="utf-8")
    found = re.search(r'^KIT_TABLE_PREFIX = "([^"]+)"', source, re.M)
    assert found and found.group(1) == servers.KIT_TABLE_PREFIX
    assert '"include_name": include_name' in source
