"""dblab.sandbox: one isolated database per notebook or test."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from dblab import sandbox as sandboxes
from dblab import servers, settings
from dblab.errors import SettingsError


def databases(server: URL) -> set[str]:
    engine = sa.create_engine(server)
    try:
        with engine.connect() as connection:
            if server.get_backend_name() == "mysql":
                rows = connection.execute(sa.text("SHOW DATABASES"))
            else:
                rows = connection.execute(
                    sa.text("SELECT datname FROM pg_database")
                )
            return {row[0] for row in rows}
    finally:
        engine.dispose()


def test_two_sandboxes_are_isolated_and_dropped(server: URL) -> None:
    first = sandboxes.create("isolation", server=server)
    second = sandboxes.create("isolation", server=server)
    try:
        assert first.name != second.name
        start = servers.own_prefix(server)
        assert first.name.startswith(f"{start}isolation_")
        with first.engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE only_here (id INTEGER)"))
        assert "only_here" in sa.inspect(first.engine).get_table_names()
        assert "only_here" not in sa.inspect(second.engine).get_table_names()
    finally:
        first.close()
        second.close()
    assert not first.folder.exists()
    if server.get_backend_name() != "sqlite":
        left = databases(server)
        assert first.name not in left
        assert second.name not in left
    first.close()  # a second close is harmless


@pytest.mark.parametrize("cache_statements", [True, False])
def test_statement_cache_can_be_left_out(
    server: URL, cache_statements: bool
) -> None:
    """A statement of a new shape per batch (a CASE of n branches) is a
    new cache entry each time, unless the sandbox keeps no cache."""
    with sandboxes.create(
        "cache", server=server, cache_statements=cache_statements
    ) as box:
        table = sa.table("t", sa.column("id"), sa.column("v"))
        with box.engine.begin() as connection:
            connection.execute(
                sa.text("CREATE TABLE t (id INTEGER, v INTEGER)")
            )
            connection.execute(
                sa.text("INSERT INTO t VALUES (1, 0), (2, 0), (3, 0)")
            )
            for size in range(1, 21):
                whens = {key: size for key in range(1, size + 1)}
                connection.execute(
                    table.update().values(v=sa.case(whens, value=table.c.id))
                )
            values = connection.execute(sa.select(table.c.v)).scalars()
            assert sorted(values) == [20, 20, 20]
        cache = box.engine._compiled_cache  # noqa: SLF001 (what we test)
        if cache_statements:
            assert len(cache) >= 20
        else:
            assert cache is None


def test_private_migrations_copy(server: URL) -> None:
    with sandboxes.create("copy", server=server, migrations=True) as box:
        copied = box.migrations / "versions"
        originals = sorted(
            p.name for p in (settings.MIGRATIONS / "versions").glob("*.py")
        )
        assert sorted(p.name for p in copied.glob("*.py")) == originals
        (copied / "extra.py").write_text("# a learner's file\n")
        assert not (settings.MIGRATIONS / "versions" / "extra.py").exists()


def test_sandbox_without_copy_says_how_to_get_one() -> None:
    with sandboxes.create("nocopy") as box:
        with pytest.raises(FileNotFoundError, match="migrations=True"):
            _ = box.migrations


def test_repr_hides_the_password() -> None:
    with sandboxes.create("repr") as box:
        box.url = box.url.set(password="s3cret")  # noqa: S106
        assert "s3cret" not in repr(box)
        assert "SQLite" in repr(box)


def test_names_are_safe_identifiers() -> None:
    url = URL.create("postgresql", username="Learner-01", database="x")
    name = sandboxes.sandbox_name("Notebook 06: split/migrations!", url)
    assert name.startswith("dblab_learner01_notebook_06_split_migrations_")
    assert len(name) <= 63
    assert name.replace("_", "").isalnum()


def test_read_only_work_folder_is_one_line_and_nothing_made(
    tmp_path, monkeypatch
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    folder.chmod(0o500)
    monkeypatch.setenv("DBLAB_WORK_DIR", str(folder))
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("root ignores folder permissions here")
        with pytest.raises(SettingsError) as caught:
            sandboxes.create("readonly")
        assert "DBLAB_WORK_DIR" in str(caught.value)
        assert len(str(caught.value).splitlines()) == 1
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_unwritable_sandboxes_folder_is_one_line(
    tmp_path, monkeypatch
) -> None:
    """The same failure as a read-only folder, reproducible as root."""
    (tmp_path / "sandboxes").write_text("not a folder")
    monkeypatch.setenv("DBLAB_WORK_DIR", str(tmp_path))
    with pytest.raises(SettingsError) as caught:
        sandboxes.create("readonly")
    assert "DBLAB_WORK_DIR" in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1
    assert (tmp_path / "sandboxes").read_text() == "not a folder"
