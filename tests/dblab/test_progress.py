"""Progress: each checker call is noted in the learner's work folder."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from dblab import cli, progress, settings
from dblab.checks import inheritance, start_here


@pytest.fixture(autouse=True)
def work_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DBLAB_WORK_DIR", str(tmp_path))
    monkeypatch.setenv("DBLAB_PROGRESS", "on")
    monkeypatch.setattr(progress, "_warned", False)
    for variable in ("DBLAB_DATABASE_URL", "DBLAB_POSTGRES_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("DBLAB_MYSQL_URL", raising=False)
    return tmp_path


def status(name: str) -> str | None:
    return progress.load().get(name, {}).get("status")


def test_a_checker_call_records_its_outcome(work_folder: Path) -> None:
    assert start_here.employee_key("users.id").ok
    assert not inheritance.choose_strategy({"A": "joined", "B": "joined"}).ok
    data = json.loads((work_folder / "progress.json").read_text("utf-8"))
    assert data["exercises"]["00_start_here.employee_key"]["status"] == "done"
    assert status("03_inheritance.choose_strategy") == "tried"
    assert settings.ROOT not in (work_folder / "progress.json").parents


def test_wrong_then_right_is_done_and_stays_done() -> None:
    assert not start_here.employee_key("employees.id").ok
    assert status("00_start_here.employee_key") == "tried"
    assert start_here.employee_key("users.id").ok
    assert status("00_start_here.employee_key") == "done"
    assert not start_here.employee_key("users").ok
    entry = progress.load()["00_start_here.employee_key"]
    assert entry["status"] == "done" and entry["tries"] == 3


def test_an_untouched_stub_is_not_started(work_folder: Path) -> None:
    assert "まだ解答がありません" in start_here.employee_key(...).message
    assert not (work_folder / "progress.json").exists()


def test_progress_command_lists_every_state(capsys) -> None:
    start_here.employee_key("users.id")
    inheritance.choose_strategy({"A": "joined", "B": "joined"})
    assert cli.main(["progress"]) == 0
    out = capsys.readouterr().out
    assert "演習 1 (employee_key): ✅ 完了" in out
    assert "(choose_strategy): 🔄 挑戦中 (tried) 1 回" in out
    assert "演習 2 (user_with_addresses): ⬜ 未着手" in out
    assert "00_start_here" in out and "04_fastapi_database" in out
    assert "完了 1 / " in out


def test_unwritable_folder_warns_once_and_still_answers(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    first = start_here.employee_key("users.id")
    second = start_here.employee_key("employees.id")
    assert first.ok and not second.ok
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "進捗を記録できませんでした" in err[0], err
    assert progress.load() == {}


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_work_folder(work_folder: Path, capsys) -> None:
    work_folder.chmod(0o555)
    try:
        assert start_here.employee_key("users.id").ok
    finally:
        work_folder.chmod(0o755)
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_work_folder_that_cannot_be_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DBLAB_WORK_DIR", str(blocker / "work"))
    assert start_here.employee_key("users.id").ok
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_corrupt_file_is_read_as_empty(work_folder: Path) -> None:
    (work_folder / "progress.json").write_text("{not json", "utf-8")
    assert progress.load() == {}
    assert start_here.employee_key("users.id").ok
    assert status("00_start_here.employee_key") == "done"


WRITER = """
import sys
from dblab import progress
from dblab.checks import start_here
tag, rounds = sys.argv[1], int(sys.argv[2])
for n in range(rounds):
    start_here.employee_key("users.id" if n % 2 == 0 else "users")
    progress.record(f"{tag}「x」", f"exercise_{n}", False)
"""


def test_two_processes_at_once_lose_nothing(work_folder: Path) -> None:
    """Two kernels calling checkers at the same moment: no lost update."""
    rounds = 40
    writers = [
        subprocess.Popen(  # noqa: S603 our own interpreter and script
            [sys.executable, "-c", WRITER, tag, str(rounds)],
            env={**os.environ, "DBLAB_WORK_DIR": str(work_folder)},
        )
        for tag in ("first", "second")
    ]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    recorded = json.loads((work_folder / "progress.json").read_text("utf-8"))
    exercises = recorded["exercises"]
    shared = exercises["00_start_here.employee_key"]
    assert shared["tries"] == 2 * rounds and shared["status"] == "done"
    for tag in ("first", "second"):
        mine = [k for k in exercises if k.startswith(f"{tag}.")]
        assert len(mine) == rounds, tag
    leftovers = [p.name for p in work_folder.glob(".progress-*")]
    assert not leftovers


def test_reset_keeps_progress_unless_asked(work_folder: Path, capsys) -> None:
    start_here.employee_key("users.id")
    assert cli.main(["reset"]) == 0
    assert status("00_start_here.employee_key") == "done"
    assert cli.main(["reset", "--progress", "--dry-run"]) == 0
    assert status("00_start_here.employee_key") == "done"
    assert cli.main(["reset", "--progress"]) == 0
    assert not (work_folder / "progress.json").exists()
    assert "演習の記録を削除しました" in capsys.readouterr().out


def test_off_under_pytest_unless_asked(
    work_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kit's own test runs never fill in a learner's progress."""
    monkeypatch.delenv("DBLAB_PROGRESS")
    assert "PYTEST_CURRENT_TEST" in os.environ
    assert start_here.employee_key("users.id").ok
    assert not (work_folder / "progress.json").exists()


def test_recording_can_be_turned_off(
    work_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBLAB_PROGRESS", "off")
    assert start_here.employee_key("users.id").ok
    assert not (work_folder / "progress.json").exists()
