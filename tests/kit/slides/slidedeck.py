"""The Slidev deck as the tests see it: its slides, snippets and npm jobs.

``slides()`` splits ``slides/slides.md`` the way Slidev numbers it (a
``---`` line starts a slide; a YAML block right after it is that slide's
frontmatter). ``DeckJobs`` runs ``npm run build`` and then ``npm run
export`` in the background, once per test run (shared by xdist workers).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import filelock
import pytest

ROOT = Path(__file__).resolve().parents[3]
SLIDES = ROOT / "slides"
DECK = SLIDES / "slides.md"
SNIPPETS = SLIDES / "snippets"

SNIPPET_IMPORT = re.compile(r"^<<<\s*@/snippets/([\w.-]+?\.py)(?:#([\w-]+))?")
FENCE = re.compile(r"^(```+|~~~+)\s*\{?\s*([\w+-]*)")
YAML_LINE = re.compile(r"^[\w-]+:")
REGION = re.compile(r"^\s*#\s*(end)?region\b\s*(.*?)\s*$")
JOB_TIMEOUT = 600  # seconds; a build takes ~20-50 s, an export ~40-60 s


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}


def missing_tools(*tools: str) -> list[str]:
    return [tool for tool in tools if shutil.which(tool) is None]


def require(*tools: str) -> None:
    """Skip (fail in CI) when a tool the deck tests need is missing."""
    missing = missing_tools(*tools)
    if not missing:
        return
    message = (
        f"{', '.join(missing)} がないのでスライドのテストを省略します "
        "(skipped) → 含めるには: Node.js 20+・chromium・poppler-utils を"
        "入れて cd slides && npm ci"
    )
    if in_ci():
        pytest.fail(f"CI: {message}", pytrace=False)
    pytest.skip(message)


@dataclass
class Slide:
    number: int
    frontmatter: str
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def title(self) -> str:
        for line in self.lines:
            if line.startswith("#"):
                return line.lstrip("#").strip()
        return ""


def notes(slide: Slide) -> str:
    """The speaker notes of a slide: its last HTML comment."""
    found = re.findall(r"<!--(.*?)-->", slide.text, flags=re.S)
    return found[-1].strip() if found else ""


def headmatter() -> str:
    """The deck's first YAML block (Slidev's headmatter)."""
    lines = DECK.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "---", "slides.md は --- で始まる headmatter が必要"
    end = lines.index("---", 1)
    return "\n".join(lines[1:end])


def slides() -> list[Slide]:
    """The slides of slides.md, numbered from 1 as in the deck's URL."""
    lines = DECK.read_text(encoding="utf-8").splitlines()
    end = lines.index("---", 1)
    deck = [Slide(1, "\n".join(lines[1:end]))]
    i = end + 1
    fence = None
    while i < len(lines):
        line = lines[i]
        opened = FENCE.match(line)
        if fence is None and line == "---":
            frontmatter, i = _frontmatter(lines, i + 1)
            deck.append(Slide(len(deck) + 1, frontmatter))
            continue
        if opened and (fence is None or line.startswith(fence)):
            fence = None if fence else opened.group(1)
        deck[-1].lines.append(line)
        i += 1
    return deck


def _frontmatter(lines: list[str], start: int) -> tuple[str, int]:
    """A YAML block right after a separator, and where the slide begins."""
    j = start
    while j < len(lines) and YAML_LINE.match(lines[j]):
        j += 1
    if j > start and j < len(lines) and lines[j] == "---":
        return "\n".join(lines[start:j]), j + 1
    return "", start


def fenced_languages() -> list[tuple[int, str]]:
    """(line number, language) of every fenced code block in slides.md."""
    found = []
    fence = None
    for number, line in enumerate(
        DECK.read_text(encoding="utf-8").splitlines(), 1
    ):
        opened = FENCE.match(line)
        if not opened:
            continue
        if fence is None:
            fence = opened.group(1)
            found.append((number, opened.group(2).lower()))
        elif line.strip() == fence:
            fence = None
    return found


def snippet_imports() -> list[tuple[int, str, str | None]]:
    """(slide number, file name, region) of every ``<<<`` import."""
    return [
        (slide.number, match.group(1), match.group(2))
        for slide in slides()
        for line in slide.lines
        if (match := SNIPPET_IMPORT.match(line.strip()))
    ]


def regions(path: Path) -> dict[str, tuple[int, int]]:
    """Region name -> (start line, end line) of a snippet file."""
    opened: dict[str, int] = {}
    closed: dict[str, tuple[int, int]] = {}
    for number, line in enumerate(
        path.read_text(encoding="utf-8").splitlines(), 1
    ):
        match = REGION.match(line)
        if not match:
            continue
        end, name = match.groups()
        if end:
            assert name in opened, (
                f"{path.name}:{number}: 対応しない endregion"
            )
            closed[name] = (opened.pop(name), number)
        else:
            opened[name] = number
    assert not opened, f"{path.name}: 閉じていない region {sorted(opened)}"
    return closed


class DeckJobs:
    """``npm run build`` then ``npm run export``, once per test run.

    The build goes to ``<folder>/site/lecture/`` (a sub-path, to show that
    the relative base works anywhere), the PDF to ``<folder>/deck.pdf``.
    They do not run at the same time: ``slidev build`` writes
    ``slides/index.html`` while it runs, and an export's dev server started
    then serves that page (a PDF of blank slides).

    Under xdist every worker makes a ``DeckJobs`` on the same folder (named
    after the run's ``PYTEST_XDIST_TESTRUNUID``): the first to ask starts
    the jobs and owns them, and the others wait for the exit codes it
    writes there. So the jobs start when the workers have collected, not
    when one of them first reaches a deck test; the last worker to leave
    removes the folder.
    """

    def __init__(self, run: str | None = None) -> None:
        if run is None:
            self.folder = Path(tempfile.mkdtemp(prefix="dblab_slides_"))
        else:
            self.folder = Path(tempfile.gettempdir()) / f"dblab_slides_{run}"
            self.folder.mkdir(exist_ok=True)
        self.site = self.folder / "site"
        self.dist = self.site / "lecture"
        self.pdf = self.folder / "deck.pdf"
        self.lock = filelock.FileLock(self.folder / ".lock")
        self.owner = False
        self.processes: dict[str, subprocess.Popen] = {}
        self.runner: threading.Thread | None = None
        self.closed = False
        with self.lock:
            users = self.folder / "users"
            count = int(users.read_text()) if users.exists() else 0
            users.write_text(str(count + 1))

    def start(self, *names: str) -> None:
        """Start the jobs named, in turn, unless some process already did."""
        with self.lock:
            marker = self.folder / "started"
            if marker.exists():
                return
            marker.write_text(" ".join(sorted(names)))
            self.owner = True
        ordered = [n for n in ("build", "export") if n in names]
        self.runner = threading.Thread(
            target=self._run, args=(ordered,), daemon=True
        )
        self.runner.start()

    def _run(self, names: list[str]) -> None:
        for name in names:
            if self.closed:
                return
            started = time.monotonic()
            try:
                code = self._launch(name).wait()
            except OSError as error:  # npm vanished: say so, do not hang
                (self.folder / f"{name}.log").write_text(str(error))
                code = -1
            seconds = time.monotonic() - started
            (self.folder / f"{name}.seconds").write_text(f"{seconds:.1f}")
            (self.folder / f"{name}.rc").write_text(str(code))

    def _launch(self, name: str) -> subprocess.Popen:
        npm = shutil.which("npm")
        assert npm, "npm がありません (npm not found)"
        if name == "build":
            argv = [npm, "run", "build", "--", "--out", str(self.dist)]
        else:
            argv = [npm, "run", "export", "--", "--output", str(self.pdf)]
        log = (self.folder / f"{name}.log").open("w", encoding="utf-8")
        env = {**os.environ, "NO_COLOR": "1", "CI": "1"}
        self.processes[name] = subprocess.Popen(  # noqa: S603 (argv list)
            argv,
            cwd=SLIDES,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own group: slidev, vite, chromium
        )
        log.close()
        return self.processes[name]

    def wait(self, name: str) -> str:
        """Wait for a job; return its log, raise if it failed."""
        rc = self.folder / f"{name}.rc"
        deadline = time.monotonic() + 2 * JOB_TIMEOUT
        while not rc.exists():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"npm run {name}: {2 * JOB_TIMEOUT} 秒で終わらない"
                )
            time.sleep(0.2)
        code = int(rc.read_text())
        log = (self.folder / f"{name}.log").read_text(encoding="utf-8")
        assert code == 0, (
            f"npm run {name} が失敗 (exit {code}):\n{log[-4000:]}"
        )
        return log

    def seconds(self) -> dict[str, float]:
        """How long each finished job took."""
        return {
            name: float((self.folder / f"{name}.seconds").read_text())
            for name in ("build", "export")
            if (self.folder / f"{name}.seconds").exists()
        }

    def close(self, interrupted: bool = False) -> None:
        """Leave the run: the owner lets its jobs finish (others may still
        wait for them) unless interrupted; the last one out cleans up."""
        if self.owner and self.runner is not None:
            if interrupted:
                self.closed = True
                for process in list(self.processes.values()):
                    _kill(process)
            self.runner.join(timeout=2 * JOB_TIMEOUT)
            for process in list(self.processes.values()):
                _kill(process)
        with self.lock:
            users = self.folder / "users"
            count = int(users.read_text()) - 1
            users.write_text(str(count))
        if count <= 0:
            shutil.rmtree(self.folder, ignore_errors=True)


def run_tool(tool: str, *args: str, timeout: float = 180) -> str:
    """Run a program found on PATH; return its stdout, fail on an error."""
    program = shutil.which(tool)
    assert program, f"{tool} がありません (not found)"
    done = subprocess.run(  # noqa: S603 (argv list, no shell)
        [program, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (
        f"{tool} が失敗 (exit {done.returncode}):\n{done.stderr[-3000:]}"
    )
    return done.stdout


def _kill(process: subprocess.Popen) -> None:
    """End a job this module started, with the children it started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def size(path: Path) -> int:
    """Bytes in a file or a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
