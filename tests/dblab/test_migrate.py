"""dblab.migrate: Alembic from Python, and its one-line errors."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from dblab import migrate, revisions, settings
from dblab.errors import MigrationError
from dblab.sandbox import Sandbox

HEAD = revisions.HEAD


def test_revision_graph_shows_branches_and_merges(sandbox: Sandbox) -> None:
    versions = sandbox.migrations / "versions"
    head = migrate.heads(sandbox)[0]
    for rev, down in [("aaaa00000001", head), ("bbbb00000002", head)]:
        (versions / f"x_{rev}.py").write_text(
            f'"""branch {rev}"""\nrevision = {rev!r}\n'
            f"down_revision = {down!r}\nbranch_labels = None\n"
            "depends_on = None\n\n\ndef upgrade():\n    pass\n\n\n"
            "def downgrade():\n    pass\n"
        )
    assert len(migrate.heads(sandbox)) == 2
    before = migrate.graph(sandbox).source
    assert f"r{head} --> raaaa00000001" in before
    assert f"r{head} --> rbbbb00000002" in before
    cfg = migrate.config(sandbox)
    command.merge(
        cfg, "heads", message="merge branches", rev_id="cccc00000003"
    )
    after = migrate.graph(sandbox).source
    assert "raaaa00000001 --> rcccc00000003" in after
    assert "rbbbb00000002 --> rcccc00000003" in after
    assert migrate.heads(sandbox) == ("cccc00000003",)
    migrate.upgrade(sandbox, "head")
    frame = migrate.history(sandbox)
    assert frame["applied"].all()


def test_checksums_catch_an_edited_revision(tmp_path) -> None:
    import shutil

    versions = tmp_path / "versions"
    shutil.copytree(settings.MIGRATIONS / "versions", versions)
    assert migrate.verify_checksums(versions)[0].startswith("versions.sum")
    migrate.write_checksums(versions)
    assert migrate.verify_checksums(versions) == []
    first = sorted(versions.glob("*.py"))[0]
    text = first.read_text(encoding="utf-8")
    first.write_bytes(text.replace("\n", "\r\n").encode())  # CRLF only
    assert migrate.verify_checksums(versions) == []
    first.write_text(text + "\n# edited\n", encoding="utf-8")
    (versions / "new.py").write_text("revision = 'n'\n")
    problems = migrate.verify_checksums(versions)
    assert any("edited" in p and first.name in p for p in problems)
    assert any("not recorded" in p and "new.py" in p for p in problems)
    migrate.write_checksums(versions)  # accept the intended change
    assert migrate.verify_checksums(versions) == []


def test_merge_needs_two_heads(sandbox: Sandbox) -> None:
    with pytest.raises(MigrationError, match="マージするもの"):
        migrate.merge(sandbox)


def test_unknown_revision_in_database_is_explained(sandbox: Sandbox) -> None:
    migrate.upgrade(sandbox, "head")
    with sandbox.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE alembic_version SET version_num = 'deadbeef0000'")
        )
    with pytest.raises(MigrationError) as caught:
        migrate.upgrade(sandbox, "head")
    message = str(caught.value)
    assert "deadbeef0000" in message
    assert "alembic stamp" in message or "alembic history" in message
    assert len(message.splitlines()) == 1


def test_multiple_heads_are_explained(add_revision, sandbox: Sandbox) -> None:
    add_revision(sandbox, "pass", "0badf00d0001")
    add_revision(sandbox, "pass", "0badf00d0002", down=HEAD)
    assert len(migrate.heads(sandbox)) == 2
    with pytest.raises(MigrationError, match="head が複数"):
        migrate.upgrade(sandbox, "head")


def test_unknown_revision_argument_is_explained(sandbox: Sandbox) -> None:
    with pytest.raises(MigrationError, match="revision が見つかりません"):
        migrate.upgrade(sandbox, "nosuchrev")


def test_alembic_check_is_clean_at_head(sandbox: Sandbox) -> None:
    migrate.upgrade(sandbox, "head")
    assert migrate.check(sandbox) is None


def test_offline_sql_renders_for_the_backend(sandbox: Sandbox) -> None:
    sql = migrate.offline_sql(sandbox, "base:head")
    assert "CREATE TABLE users" in sql
    assert "CREATE TABLE employees" in sql
    assert "unknown-" in sql
    if sandbox.backend == "mysql":
        assert "concat(" in sql.lower()
    else:
        assert "||" in sql


def test_revision_with_a_syntax_error_is_one_line(sandbox: Sandbox) -> None:
    path = sandbox.migrations / "versions" / "2024_05_01_0000-0badsyntax_x.py"
    path.write_text("revision = 'x'\ndef upgrade(:\n", encoding="utf-8")
    with pytest.raises(MigrationError) as caught:
        migrate.upgrade(sandbox, "head")
    message = str(caught.value)
    assert "SyntaxError" in message
    assert len(message.splitlines()) == 1
    assert migrate.current(sandbox) == ()


def test_unknown_revision_can_be_restamped(sandbox: Sandbox) -> None:
    """The fix the message names works: stamp through the check."""
    migrate.upgrade(sandbox, "head")
    with sandbox.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE alembic_version SET version_num = 'deadbeef0000'")
        )
    with pytest.raises(MigrationError, match="migrate.stamp"):
        migrate.upgrade(sandbox, "head")
    with pytest.raises(MigrationError, match="revision"):
        migrate.stamp(sandbox, to="nosuchrev000")  # a wrong fix: refused
    assert migrate.current(sandbox) == ("deadbeef0000",)
    migrate.stamp(sandbox, to=revisions.HEAD)
    assert migrate.current(sandbox) == (revisions.HEAD,)
    assert migrate.upgrade(sandbox, "head") == (revisions.HEAD,)
