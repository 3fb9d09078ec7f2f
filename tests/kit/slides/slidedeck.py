"""The Slidev deck as the tests see it: its slides, snippets and npm jobs.

``slides()`` splits ``slides/slides.md`` the way Slidev numbers it (a
``---`` line starts a slide; a YAML block right after it is that slide's
frontmatter). ``DeckJobs`` runs ``npm run build`` and ``npm run export``
in the background, side by side, once per test session.
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
    """``npm run build`` and ``npm run export``, started once, in turn.

    The build goes to ``<tmp>/site/lecture/`` (a sub-path, to show that the
    relative base works anywhere), the PDF to ``<tmp>/deck.pdf``. They do
    not run at the same time: ``slidev build`` writes ``slides/index.html``
    while it runs, and an export's dev server started then serves that page
    (a PDF of blank slides). Both run in the background while other tests
    go on; the export starts, from a thread, when the build has finished.
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="dblab_slides_"))
        self.site = self.folder / "site"
        self.dist = self.site / "lecture"
        self.pdf = self.folder / "deck.pdf"
        self.processes: dict[str, subprocess.Popen] = {}
        self.queued: dict[str, threading.Thread] = {}
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.closed = False

    def start(self, name: str) -> None:
        """Start ``build`` or ``export`` unless it already runs."""
        if name in self.processes or name in self.queued:
            return
        build = self.processes.get("build")
        if name == "export" and build is not None and build.poll() is None:
            after = threading.Thread(
                target=self._after, args=(build, name), daemon=True
            )
            self.queued[name] = after
            after.start()
            return
        self._launch(name)

    def _after(self, first: subprocess.Popen, name: str) -> None:
        first.wait()
        if not self.closed:
            self._launch(name)

    def _launch(self, name: str) -> None:
        npm = shutil.which("npm")
        assert npm, "npm がありません (npm not found)"
        if name == "build":
            argv = [npm, "run", "build", "--", "--out", str(self.dist)]
        else:
            argv = [npm, "run", "export", "--", "--output", str(self.pdf)]
        log = (self.folder / f"{name}.log").open("w", encoding="utf-8")
        env = {**os.environ, "NO_COLOR": "1", "CI": "1"}
        self.started[name] = time.monotonic()
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

    def wait(self, name: str) -> str:
        """Wait for a job; return its log, raise if it failed."""
        self.start(name)
        if name in self.queued:
            self.queued[name].join(timeout=JOB_TIMEOUT)
        process = self.processes.get(name)
        assert process is not None, f"npm run {name}: 始まっていない"
        try:
            code = process.wait(timeout=JOB_TIMEOUT)
        except subprocess.TimeoutExpired:
            _kill(process)
            raise AssertionError(
                f"npm run {name}: {JOB_TIMEOUT} 秒で終わらない"
            ) from None
        self.seconds.setdefault(name, time.monotonic() - self.started[name])
        log = (self.folder / f"{name}.log").read_text(encoding="utf-8")
        assert code == 0, (
            f"npm run {name} が失敗 (exit {code}):\n{log[-4000:]}"
        )
        return log

    def close(self) -> None:
        self.closed = True
        for process in self.processes.values():
            _kill(process)
        for queued in self.queued.values():
            queued.join(timeout=5)
        for process in self.processes.values():
            _kill(process)
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
