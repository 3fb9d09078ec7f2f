"""dblab.targets: named deploy targets, one database each, never dropped
by ``close()``."""

from __future__ import annotations

import secrets
import shutil

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from dblab import migrate, revisions, servers, settings, targets
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
