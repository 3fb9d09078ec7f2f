"""The learner's progress: each exercise done, tried or not started.

Every checker call records its outcome (:func:`record`, called by
:func:`dblab.checks.checker`) in ``<work folder>/progress.json`` -- the
learner's git-ignored folder, never the repository. ``dblab progress``
lists, per notebook, each exercise found in its 「演習」 section.

Two kernels may run checkers at the same moment: a write takes an
exclusive lock (``progress.lock``), re-reads the file, and replaces it
atomically, so neither outcome is lost and the file is never half
written. A folder that cannot be written costs one warning line, never
the checker's answer. ``DBLAB_PROGRESS=off`` turns recording off; it is
off under pytest unless ``DBLAB_PROGRESS=on``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dblab import settings
from dblab.errors import SettingsError

FILE_NAME = "progress.json"
LOCK_NAME = "progress.lock"
DONE, TRIED = "done", "tried"
LABELS = {
    DONE: "✅ 完了 (done)",
    TRIED: "🔄 挑戦中 (tried)",
    None: "⬜ 未着手 (not started)",
}
CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\(")

_warned = False


def path() -> Path:
    """Where the progress of this work folder is kept."""
    return settings.work_dir() / FILE_NAME


def key(section: str, name: str) -> str:
    """``02_relationships.eager_users``: the notebook its section names."""
    return f"{section.split('「')[0].strip()}.{name}"


def load(file: Path | None = None) -> dict[str, dict]:
    """Every recorded exercise; an absent or unreadable file is empty."""
    file = path() if file is None else file
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    exercises = data.get("exercises") if isinstance(data, dict) else None
    return exercises if isinstance(exercises, dict) else {}


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: the atomic replace still protects
        yield
        return
    with open(folder / LOCK_NAME, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def enabled() -> bool:
    """``DBLAB_PROGRESS`` on/off; unset: on, except under pytest.

    The kit's own tests and solution notebooks call every checker with
    the right answer; they must not fill in a learner's progress.
    """
    value = os.environ.get("DBLAB_PROGRESS", "").strip().lower()
    if value in {"0", "off", "no"}:
        return False
    if value in {"1", "on", "yes"}:
        return True
    return "PYTEST_CURRENT_TEST" not in os.environ


def record(section: str, name: str, ok: bool) -> None:
    """Note one checker outcome; a done exercise stays done."""
    if not enabled():
        return
    try:
        folder = settings.work_dir()
        with _locked(folder):
            file = folder / FILE_NAME
            exercises = load(file)
            entry = exercises.setdefault(key(section, name), {})
            entry["status"] = (
                DONE if ok or entry.get("status") == DONE else (TRIED)
            )
            entry["tries"] = int(entry.get("tries", 0)) + 1
            entry["last"] = datetime.datetime.now(datetime.UTC).isoformat(
                timespec="seconds"
            )
            _write(file, {"version": 1, "exercises": exercises})
    except (OSError, SettingsError) as error:
        _warn(error)


def _write(file: Path, data: dict) -> None:
    handle, temporary = tempfile.mkstemp(
        prefix=".progress-", suffix=".json", dir=file.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=1, sort_keys=True)
        os.replace(temporary, file)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _warn(error: Exception) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    reason = getattr(error, "strerror", None) or str(error)
    print(
        f"⚠ 進捗を記録できませんでした (progress not saved: {reason})",
        file=sys.stderr,
    )


def exercises(notebook: Path) -> list[str]:
    """The checker calls of a notebook's 「演習」 section, in order."""
    import nbformat

    module = notebook.stem[3:]
    cells = nbformat.read(notebook, as_version=4).cells
    start = next(
        (
            i
            for i, cell in enumerate(cells)
            if cell.cell_type == "markdown"
            and cell.source.startswith("## 演習")
        ),
        len(cells),
    )
    found: list[str] = []
    for cell in cells[start:]:
        if cell.cell_type != "code":
            continue
        for _alias, name in CALL.findall(cell.source):
            if _is_checker(module, name):
                if f"{notebook.stem}.{name}" not in found:
                    found.append(f"{notebook.stem}.{name}")
    return found


def _is_checker(module: str, name: str) -> bool:
    import importlib

    try:
        checks = importlib.import_module(f"dblab.checks.{module}")
    except ImportError:
        return False
    return hasattr(getattr(checks, name, None), "section")


def report() -> list[str]:
    """The lines ``dblab progress`` prints."""
    from dblab import notebooks

    recorded = load()
    lines = [f"進捗 (progress): {path()}"]
    done = total = 0
    for notebook in notebooks.all_notebooks():
        if notebook.parent.name == "solutions":
            continue
        names = exercises(notebook)
        if not names:
            continue
        lines.append(f"\n{notebook.stem}")
        for number, name in enumerate(names, 1):
            entry = recorded.get(name, {})
            status = entry.get("status")
            label = LABELS.get(status, LABELS[None])
            if status == TRIED:
                label += f" {entry.get('tries', 1)} 回"
            lines.append(f"  演習 {number} ({name.split('.')[1]}): {label}")
            done += status == DONE
            total += 1
    lines.append(f"\n完了 {done} / {total} 問")
    return lines


def show() -> None:
    """Print the progress (notebook 00 calls this)."""
    print("\n".join(report()))


def forget() -> bool:
    """Remove the progress file; True if there was one."""
    file = path()
    with _locked(file.parent):
        try:
            file.unlink()
        except FileNotFoundError:
            return False
    return True


def add_arguments(parser: argparse.ArgumentParser) -> None:  # noqa: ARG001
    """``dblab progress`` takes no options."""


def run(args: argparse.Namespace) -> int:  # noqa: ARG001
    show()
    return 0
