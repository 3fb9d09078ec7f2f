"""``dblab deploy`` refuses bad input in one line and changes nothing.

The adversaries: a revision that does not exist, a migrations folder
that does not exist, a server that does not answer, a work folder that
cannot be written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dblab import cli


def one_line_refusal(capsys, argv: list[str]) -> str:
    code = cli.main(["deploy", *argv])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, captured
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
    return lines[0]


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    monkeypatch.setenv("DBLAB_WORK_DIR", str(folder))
    monkeypatch.delenv("DBLAB_DATABASE_URL", raising=False)
    return folder


def test_unknown_revision_and_missing_migrations(work: Path, capsys) -> None:
    line = one_line_refusal(capsys, ["--to", "deadbeef"])
    assert "deadbeef" in line and "unknown revision" in line
    line = one_line_refusal(capsys, ["--migrations", "/nonexistent"])
    assert "/nonexistent" in line
    assert not work.exists()  # nothing made


def test_unwritable_work_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("DBLAB_WORK_DIR", str(blocker / "work"))
    monkeypatch.delenv("DBLAB_DATABASE_URL", raising=False)
    line = one_line_refusal(capsys, ["--dry-run"])
    assert "DBLAB_WORK_DIR" in line
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_server_down(work: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv(
        "DBLAB_DATABASE_URL",
        "postgresql+psycopg://postgres:secret-pw@127.0.0.1:1/postgres",
    )
    line = one_line_refusal(capsys, ["--dry-run"])
    assert "127.0.0.1:1" in line
    assert "secret-pw" not in line
