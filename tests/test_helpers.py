"""dblab.schema, dblab.sqllog, dblab.checks, the revision graph, doctor."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

import dblab
from app import models
from dblab import checks, cli, migrate, schema, sqllog
from dblab.sandbox import Sandbox


def test_er_diagram_of_models_and_database_agree(sandbox: Sandbox) -> None:
    migrate.upgrade(sandbox, "head")
    live = schema.er_diagram(sandbox.engine).source
    assert live == schema.er_diagram(models.Base.metadata).source
    assert "users ||--o{ addresses" in live
    assert "users ||--o| employees" in live
    assert "VARCHAR(120) email UK" in live
    bundle = schema.er_diagram(sandbox.engine)._repr_mimebundle_()
    assert bundle["text/markdown"].startswith("```mermaid\nerDiagram")


def test_columns_are_portable(sandbox: Sandbox) -> None:
    migrate.upgrade(sandbox, "head")
    frame = schema.columns(sandbox.engine, "users")
    assert list(frame["column"]) == ["id", "name", "email", "age", "type"]
    assert list(frame["type"]) == [
        "INTEGER",
        "VARCHAR(50)",
        "VARCHAR(120)",
        "INTEGER",
        "VARCHAR(20)",
    ]
    assert list(frame["nullable"]) == [False, False, False, True, False]


def test_diff_names_what_a_migration_changed(sandbox: Sandbox) -> None:
    migrate.upgrade(sandbox, "71cc828891fc")
    before = schema.snapshot(sandbox.engine)
    migrate.upgrade(sandbox, "head")
    after = schema.snapshot(sandbox.engine)
    changes = schema.diff(before, after).changes
    assert "+ テーブル addresses" in changes
    assert "+ 列 users.type VARCHAR(20) NOT NULL" in changes
    assert "~ 列 users.email: NULL 可 → NOT NULL" in changes
    assert not schema.diff(after, schema.snapshot(sandbox.engine))
    assert "変更なし" in str(schema.diff(after, after))


def test_sqllog_counts_statements_not_transactions(sandbox: Sandbox) -> None:
    migrate.upgrade(sandbox, "head")
    with sqllog.capture(sandbox.engine) as log, sandbox.session() as s:
        s.add_all(
            [models.User(name=f"u{i}", email=f"u{i}@x.io") for i in range(3)]
        )
        s.commit()
        assert len(s.scalars(sa.select(models.User)).all()) == 3
    assert log.count("SELECT") == 1
    assert log.count() == log.count("INSERT") + 1
    assert "SELECT" in str(log) and "BEGIN" not in str(log)
    with sqllog.capture(sandbox.engine) as empty:
        pass
    assert len(empty) == 0


def test_expect_error_passes_only_when_the_error_happens(capsys) -> None:
    with dblab.expect_error(ZeroDivisionError) as caught:
        1 / 0  # noqa: B018
    assert isinstance(caught.error, ZeroDivisionError)
    assert "想定どおりのエラー" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="何も起きませんでした"):
        with dblab.expect_error(IntegrityError):
            pass
    with pytest.raises(AssertionError, match="一致しません"):
        with dblab.expect_error(ValueError, match="UNIQUE"):
            raise ValueError("something else")
    with pytest.raises(KeyError):  # a different error is not swallowed
        with dblab.expect_error(ValueError):
            raise KeyError("x")


def test_result_renders_verdict_and_section() -> None:
    bad = checks.failed("足りません", "02_relationships「N+1 問題」", "詳細")
    assert "❌ 不正解" in str(bad) and "N+1 問題" in str(bad)
    assert "読み直す節" in bad._repr_markdown_()
    good = checks.passed("できました")
    assert good.ok and "✅ 正解" in str(good) and "読み直す" not in str(good)


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
    from alembic import command

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


def test_doctor_reports_and_exits(monkeypatch, capsys) -> None:
    monkeypatch.setenv("DBLAB_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:9/x")
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "[NG ] MySQL/MariaDB" in out and "127.0.0.1:9" in out
    monkeypatch.delenv("DBLAB_MYSQL_URL")
    monkeypatch.delenv("DBLAB_POSTGRES_URL", raising=False)
    monkeypatch.delenv("DBLAB_DATABASE_URL", raising=False)
    assert cli.main(["doctor"]) == 0
    assert "Mermaid" in capsys.readouterr().out


def test_bad_database_url_is_one_line_from_the_command(monkeypatch, capsys):
    monkeypatch.setenv("DBLAB_DATABASE_URL", "nonsense//")
    from dblab import doctor

    monkeypatch.setattr(
        doctor, "report", lambda: dblab.settings.database_url()
    )
    assert cli.main(["doctor"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dblab doctor: DBLAB_DATABASE_URL")
    assert len(err.splitlines()) == 1


def test_checksums_catch_an_edited_revision(tmp_path) -> None:
    import shutil

    from dblab import settings

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
    from dblab.errors import MigrationError

    with pytest.raises(MigrationError, match="マージするもの"):
        migrate.merge(sandbox)
