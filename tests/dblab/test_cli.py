"""The dblab command: one line on stderr for a DblabError."""

from __future__ import annotations

import dblab
from dblab import cli


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
