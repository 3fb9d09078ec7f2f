"""dblab.sqllog: the statements a block of code sends."""

from __future__ import annotations

import sqlalchemy as sa

from app import models
from dblab import migrate, sqllog
from dblab.sandbox import Sandbox


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
