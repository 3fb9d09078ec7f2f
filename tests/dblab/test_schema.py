"""dblab.schema: columns, ER diagrams, snapshots and their diff."""

from __future__ import annotations

from app import models
from dblab import migrate, revisions, schema
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
    migrate.upgrade(sandbox, revisions.AGE_ADDED)
    before = schema.snapshot(sandbox.engine)
    migrate.upgrade(sandbox, "head")
    after = schema.snapshot(sandbox.engine)
    changes = schema.diff(before, after).changes
    assert "+ テーブル addresses" in changes
    assert "+ 列 users.type VARCHAR(20) NOT NULL" in changes
    assert "~ 列 users.email: NULL 可 → NOT NULL" in changes
    assert not schema.diff(after, schema.snapshot(sandbox.engine))
    assert "変更なし" in str(schema.diff(after, after))
