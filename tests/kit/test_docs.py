"""The docs say only what is there: slides, notebooks, paths, commands.

``docs/instructor.md`` holds two tables: every slide of
``slides/slides.md`` with the notebook sections it introduces, and every
``##`` section of every notebook with the slides that introduce it (or
why it is notebook-only). These tests rebuild both from the deck and the
notebooks and list every difference, so neither table can drift. They
also check that every notebook, section, snippet and file path named in
``docs/`` and ``README.md`` exists and that every ``dblab`` command named
there answers ``--help``.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from dblab import cli, settings

ROOT = settings.ROOT
DECK = ROOT / "slides" / "slides.md"
NOTEBOOKS = ROOT / "notebooks"
INSTRUCTOR = ROOT / "docs" / "instructor.md"
FAQ = ROOT / "docs" / "faq.md"
DOCUMENTS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

SLIDE_HEADER = ("#", "スライド", "ノートブックの節")
SECTION_HEADER = ("ノートブック", "節", "紹介するスライド")
NOTEBOOK_ONLY = "ノートブックのみ"
NO_TITLE = "(見出しなし)"

STEM = r"(?:solutions/)?\d\d_[a-z0-9_]+"
ENTRY = re.compile(rf"^`(?P<stem>{STEM})`(?:\s*›\s*(?P<section>.+))?$")
POINTER = re.compile(
    rf"`(?:notebooks/)?(?P<stem>{STEM})(?:\.ipynb)?` の「(?P<section>[^」]+)」"
)
NAMED_STEM = re.compile(rf"`(?:notebooks/)?(?P<stem>{STEM})(?:\.ipynb)?`")
NAMED_PATH = re.compile(
    r"(?<![\w/.-])((?:notebooks|slides|src|tests|migrations|docs|binder)"
    r"/[\w./-]*)(?![\w<*{])"
)
COMMAND = re.compile(r"\bdblab ([a-z][a-z-]*)\b")


# -- the deck ---------------------------------------------------------------


@dataclass(frozen=True)
class Slide:
    number: int
    title: str


def deck(text: str) -> list[Slide]:
    """Split a Slidev file into slides the way ``@slidev/parser`` does.

    A line starting with ``---`` ends a slide; when the next line is not
    blank, the lines up to the next ``---`` are that slide's frontmatter.
    Code fences and HTML comments hide ``---`` lines.
    """
    lines = re.split(r"\r?\n", text)
    raws: list[list[str]] = []
    start, i, in_comment = 0, 0, False
    while i < len(lines):
        line = lines[i].rstrip()
        if in_comment:
            in_comment = _in_comment(lines[i], True)
        elif line.startswith("---"):
            if start != i:
                raws.append(lines[start:i])
            start = i + 1
            following = lines[i + 1] if i + 1 < len(lines) else ""
            if line[3:4] != "-" and following.strip():
                start = i
                i += 1
                while i < len(lines) and lines[i].rstrip() != "---":
                    i += 1
        elif line.lstrip().startswith("```"):
            fence = re.match(r"^\s*`+", line).group(0)
            j = i + 1
            while j < len(lines) and not lines[j].startswith(fence):
                j += 1
            if j < len(lines):
                i = j
        else:
            in_comment = _in_comment(lines[i], False)
        i += 1
    if start <= len(lines) - 1:
        raws.append(lines[start:])
    return [Slide(n, _title(raw)) for n, raw in enumerate(raws, 1)]


def _in_comment(line: str, inside: bool) -> bool:
    cursor = 0
    while cursor < len(line):
        if inside:
            end = line.find("-->", cursor)
            if end < 0:
                return True
            inside, cursor = False, end + 3
        else:
            begin = line.find("<!--", cursor)
            if begin < 0:
                return False
            end = line.find("-->", begin + 4)
            if end < 0:
                return True
            cursor = end + 3
    return inside


def _title(raw: list[str]) -> str:
    """Frontmatter ``title``/``name``, else the first heading."""
    content = raw
    if raw and raw[0].startswith("---"):
        end = next(
            (k for k in range(1, len(raw)) if raw[k].rstrip() == "---"),
            len(raw),
        )
        for line in raw[1:end]:
            found = re.match(r"^(?:title|name):\s*(.+?)\s*$", line)
            if found:
                return found.group(1).strip("'\"")
        content = raw[end + 1 :]
    body = "\n".join(content).strip()
    notes = list(re.finditer(r"<!--([\s\S]*?)-->", body))
    if notes and notes[-1].end() >= len(body):
        body = body[: notes[-1].start()].strip()
    body = re.sub(r"^```[\s\S]+?^```", "", body, flags=re.M)
    heading = re.search(r"^(#+) (.*)$", body, flags=re.M)
    return heading.group(2).strip() if heading else ""


def slides() -> list[Slide]:
    return deck(DECK.read_text(encoding="utf-8"))


# -- the notebooks ----------------------------------------------------------


def notebook_path(stem: str) -> Path:
    return NOTEBOOKS / f"{stem}.ipynb"


def course_notebooks() -> list[str]:
    return sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@functools.cache
def sections(stem: str) -> tuple[str, ...]:
    """The ``##`` headings of a notebook's markdown cells, in order."""
    notebook = json.loads(notebook_path(stem).read_text(encoding="utf-8"))
    found = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        source = re.sub(r"^```[\s\S]*?^```", "", source, flags=re.M)
        found += re.findall(r"^## (.+?)\s*$", source, flags=re.M)
    return tuple(found)


def _exists(stem: str) -> bool:
    return notebook_path(stem).exists()


# -- the instructor guide's tables -------------------------------------------


def table(text: str, header: tuple[str, ...]) -> list[list[str]]:
    """The rows of the Markdown table whose header is ``header``."""
    lines = text.splitlines()
    for k, line in enumerate(lines):
        if tuple(_cells(line)) == header:
            rows = []
            for row in lines[k + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append(_cells(row))
            return rows
    pytest.fail(
        f"{INSTRUCTOR.name} に表 | {' | '.join(header)} | がありません",
        pytrace=False,
    )


def _cells(line: str) -> list[str]:
    if not line.startswith("|"):
        return []
    parts = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [part.strip().replace("\\|", "|") for part in parts]


def _entries(cell: str) -> list[tuple[str, str | None]]:
    """``(notebook, section or None)`` pairs of a slide row's last cell."""
    found = []
    for entry in re.split(r"\s*<br\s*/?>\s*", cell):
        if not entry or entry.startswith("—"):
            continue
        match = ENTRY.match(entry)
        assert match, f"読めない項目 (unparseable entry): {entry!r}"
        found.append((match["stem"], match["section"]))
    return found


def slide_rows() -> list[tuple[int, str, list[tuple[str, str | None]]]]:
    text = INSTRUCTOR.read_text(encoding="utf-8")
    rows = []
    for cells in table(text, SLIDE_HEADER):
        assert len(cells) == 3, f"3 列ではない行: {cells}"
        assert cells[0].isdigit(), f"スライド番号ではない: {cells[0]!r}"
        title = "" if cells[1] == NO_TITLE else cells[1]
        rows.append((int(cells[0]), title, _entries(cells[2])))
    return rows


def section_rows() -> list[tuple[str, str, str]]:
    text = INSTRUCTOR.read_text(encoding="utf-8")
    rows = []
    for cells in table(text, SECTION_HEADER):
        assert len(cells) == 3, f"3 列ではない行: {cells}"
        stem = cells[0].strip("`")
        rows.append((stem, cells[1], cells[2]))
    return rows


def _differences(label: str, doc: list, actual: list) -> list[str]:
    missing = [item for item in actual if item not in doc]
    extra = [item for item in doc if item not in actual]
    lines = [f"  表にない {label}: {item}" for item in missing]
    lines += [f"  表にあるが実際にはない {label}: {item}" for item in extra]
    return lines


def _report(problems: list[str], fix: str) -> None:
    if problems:
        pytest.fail(
            "docs/instructor.md が実際と違います (drift):\n"
            + "\n".join(problems)
            + f"\n直し方: {fix}",
            pytrace=False,
        )


# -- tests: slides <-> notebooks ----------------------------------------------


def test_slide_parser_agrees_with_slidev() -> None:
    node = shutil.which("node")
    parser = ROOT / "slides" / "node_modules" / "@slidev" / "parser"
    if node is None or not parser.exists():
        pytest.skip("node と slides/node_modules がないので省略 (no Slidev)")
    script = (
        "import { parseSync } from '@slidev/parser';"
        "import fs from 'node:fs';"
        "const r = parseSync(fs.readFileSync('slides.md', 'utf8'), 'x');"
        "console.log(JSON.stringify(r.slides.map(s => s.title ?? '')));"
    )
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [node, "--input-type=module", "-e", script],
        cwd=ROOT / "slides",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert [s.title for s in slides()] == json.loads(result.stdout)


def test_deck_parser_on_frontmatter_fences_and_comments() -> None:
    text = (
        "---\ntheme: x\ntitle: Deck\n---\n\n# Cover\n\n---\n\n# A\n"
        "```bash\n---\n# not a title\n```\n\n---\nlayout: section\n---\n\n"
        "```ini\n# comment\n```\n## B\n<!--\n---\n-->\n\n---\n\nthe end\n"
    )
    assert deck(text) == [
        Slide(1, "Deck"),
        Slide(2, "A"),
        Slide(3, "B"),
        Slide(4, ""),
    ]


def test_slide_table_lists_every_slide_of_the_deck() -> None:
    rows = [(number, title) for number, title, _ in slide_rows()]
    deck_slides = slides()
    doc_titles = [title for _, title in rows]
    deck_titles = [slide.title for slide in deck_slides]
    problems = []
    matcher = difflib.SequenceMatcher(a=doc_titles, b=deck_titles)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "delete":
            for number, title in rows[a1:a2]:
                problems.append(
                    f"  表の {number}「{title}」は slides.md にない"
                )
        elif op == "insert":
            for slide in deck_slides[b1:b2]:
                problems.append(
                    f"  スライド {slide.number}「{slide.title}」が表にない"
                )
        elif op == "replace":
            for k in range(max(a2 - a1, b2 - b1)):
                doc = rows[a1 + k] if a1 + k < a2 else None
                new = deck_slides[b1 + k] if b1 + k < b2 else None
                if doc and new:
                    problems.append(
                        f"  スライド {new.number}: 表は「{doc[1]}」、"
                        f"slides.md は「{new.title}」"
                    )
                elif doc:
                    problems.append(
                        f"  表の {doc[0]}「{doc[1]}」は slides.md にない"
                    )
                else:
                    problems.append(
                        f"  スライド {new.number}「{new.title}」が表にない"
                    )
    if not problems:
        numbers = [number for number, _ in rows]
        expected = [slide.number for slide in deck_slides]
        if numbers != expected:
            problems.append(
                f"  番号が違う: 表 {numbers}、slides.md {expected}"
            )
    elif any(
        a1 != b1 and op == "equal"
        for op, a1, _, b1, _ in matcher.get_opcodes()
    ):
        problems.append(
            "  (この後ろのスライドは番号がずれるので、両方の表の番号も直す)"
        )
    _report(
        problems,
        f"slides.md は {len(deck_slides)} 枚。表の「#」と「スライド」を"
        "合わせ、節の表のスライド番号も直す",
    )


def test_slide_table_names_existing_notebook_sections() -> None:
    problems = []
    for number, title, entries in slide_rows():
        for stem, section in entries:
            if not _exists(stem):
                problems.append(f"  スライド {number}: {stem} がない")
            elif section is not None and section not in sections(stem):
                problems.append(
                    f"  スライド {number} 「{title}」: {stem} に"
                    f"節「{section}」がない"
                )
    _report(problems, "ノートブックの ## 見出しをそのまま書く")


def test_every_notebook_section_is_introduced_or_notebook_only() -> None:
    introduced: dict[tuple[str, str], set[int]] = {}
    for number, _, entries in slide_rows():
        for stem, section in entries:
            if section is not None:
                introduced.setdefault((stem, section), set()).add(number)
    rows = section_rows()
    doc_keys = [(stem, section) for stem, section, _ in rows]
    actual_keys = [
        (stem, section)
        for stem in course_notebooks()
        for section in sections(stem)
    ]
    problems = _differences("節", doc_keys, actual_keys)
    if len(doc_keys) != len(set(doc_keys)):
        problems.append("  同じ節が 2 回ある")
    for stem, section, cell in rows:
        expected = introduced.get((stem, section), set())
        if cell.startswith(NOTEBOOK_ONLY):
            if expected:
                problems.append(
                    f"  {stem}「{section}」は{NOTEBOOK_ONLY}とあるが、"
                    f"スライド {sorted(expected)} が紹介している"
                )
            elif not cell[len(NOTEBOOK_ONLY) :].strip(" :："):
                problems.append(f"  {stem}「{section}」: 理由がない")
            continue
        listed = {int(n) for n in re.findall(r"\d+", cell)}
        if listed != expected or not expected:
            problems.append(
                f"  {stem}「{section}」: 表はスライド {sorted(listed)}、"
                f"スライドの表からは {sorted(expected)}"
            )
    _report(
        problems,
        "節の表に、ノートブックの ## 見出しを 1 行ずつ、紹介するスライドの"
        f"番号か「{NOTEBOOK_ONLY}: 理由」を書く",
    )


def test_every_notebook_has_a_slide() -> None:
    named = {stem for _, _, entries in slide_rows() for stem, _ in entries}
    missing = [stem for stem in course_notebooks() if stem not in named]
    assert not missing, f"スライドの表に出てこないノートブック: {missing}"


# -- tests: everything named in docs/ and README.md ---------------------------


def _documents() -> list[tuple[Path, str]]:
    return [
        (path, path.read_text(encoding="utf-8"))
        for path in DOCUMENTS
        if path.exists()
    ]


def _generated(named: str) -> bool:
    """True for a path ``.gitignore`` ignores: built by a command."""
    named = named.rstrip("/")
    for line in (ROOT / ".gitignore").read_text(encoding="utf-8").split("\n"):
        pattern = line.strip().strip("/")
        if not pattern or pattern.startswith(("#", "!")):
            continue
        if "/" in line.strip().rstrip("/"):
            candidates = [named]  # anchored at the root
        else:
            parts = named.split("/")
            candidates = ["/".join(parts[k:]) for k in range(len(parts))]
        for candidate in candidates:
            if fnmatch.fnmatch(candidate, pattern) or candidate.startswith(
                pattern + "/"
            ):
                return True
    return False


def test_generated_paths_are_told_apart() -> None:
    assert _generated("slides/dist/")
    assert _generated("slides/dist/index.html")
    assert _generated("slides/dblab-slides.pdf")
    assert not _generated("slides/snippets/missing.py")
    assert not _generated("notebooks/99_missing.ipynb")


def test_named_notebooks_snippets_and_paths_exist() -> None:
    problems = []
    for path, text in _documents():
        for match in NAMED_STEM.finditer(text):
            stem = match["stem"]
            if not _exists(stem):
                problems.append(f"{path.name}: {match.group(0)}")
        for named in NAMED_PATH.findall(text):
            named = named.rstrip(".")
            if not (ROOT / named).exists() and not _generated(named):
                problems.append(f"{path.name}: {named}")
    assert not problems, "存在しないパス (missing paths):\n" + "\n".join(
        problems
    )


def test_named_notebook_sections_exist() -> None:
    problems = []
    count = 0
    for path, text in _documents():
        for match in POINTER.finditer(text):
            stem, section = match["stem"], match["section"]
            count += 1
            if not _exists(stem):
                problems.append(f"{path.name}: {stem} がない")
            elif section not in sections(stem):
                problems.append(f"{path.name}: {stem} に「{section}」がない")
    assert count >= 15, f"節への参照が少なすぎる ({count})"
    assert not problems, "存在しない節 (missing sections):\n" + "\n".join(
        problems
    )


def test_faq_has_fifteen_questions_each_with_a_pointer() -> None:
    text = FAQ.read_text(encoding="utf-8")
    blocks = re.split(r"^### ", text, flags=re.M)[1:]
    questions = [block for block in blocks if re.match(r"Q\d+\.", block)]
    assert len(questions) >= 15, f"質問が {len(questions)} 個しかない"
    unanswered = [
        block.splitlines()[0]
        for block in questions
        if not POINTER.search(block)
    ]
    assert not unanswered, f"ノートブックの節を指していない質問: {unanswered}"


def named_commands() -> list[str]:
    found = {
        command
        for _, text in _documents()
        for command in COMMAND.findall(text)
    }
    return sorted(found)


def test_docs_name_dblab_commands() -> None:
    assert {"doctor", "reset", "run-notebooks"} <= set(named_commands())


@pytest.mark.parametrize("command", named_commands())
def test_named_dblab_command_answers_help(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command in cli.COMMANDS, f"dblab {command} というコマンドはない"
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: dblab {command}" in capsys.readouterr().out


def test_dblab_console_command_runs() -> None:
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "dblab", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for command in named_commands():
        assert command in result.stdout
