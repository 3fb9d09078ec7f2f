"""The glossary's "do not use" words appear nowhere a learner reads.

``docs/glossary.md`` lists, per concept, the words the kit uses and the
words it does not use (``住所`` for an email address, a second katakana
spelling of one term). These tests read its tables, then search every
notebook cell (lessons and solutions), the deck and the ``src/dblab``
messages for the words it rules out, and fail naming the file and the
cell or line. A katakana word matches only where it is not part of a
longer katakana word (``ヘッド`` is not found in ``オーバーヘッド``).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from dblab import settings

ROOT = settings.ROOT
GLOSSARY = ROOT / "docs" / "glossary.md"
DECK = ROOT / "slides" / "slides.md"
HEADER = ("English", "キットの言い方", "使わない言い方")
KATAKANA = "ァ-ヴー"
QUOTED = re.compile(r"`([^`]+)`")
# concepts the glossary must cover (the terms the course teaches)
REQUIRED = (
    "revision",
    "head",
    "upgrade",
    "downgrade",
    "backfill",
    "sandbox",
    "fingerprint",
    "rehearsal",
    "roll-forward",
    "expand / migrate / contract",
    "autogenerate",
    "stamp",
    "lint",
    "dump",
    "restore",
    "advisory lock",
    "email address",
)


@dataclass(frozen=True)
class Entry:
    """One row of the glossary."""

    english: str
    used: tuple[str, ...]
    avoided: tuple[str, ...]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@functools.cache
def entries() -> tuple[Entry, ...]:
    """The rows of every table in the glossary."""
    rows, in_table = [], False
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        cells = _cells(line)
        if tuple(cells[:3]) == HEADER:
            in_table = True
            continue
        if not in_table or set(cells[0]) <= set("-: "):
            continue
        english, used, avoided = cells[:3]
        rows.append(
            Entry(
                english=english,
                used=tuple(QUOTED.findall(used)),
                avoided=tuple(QUOTED.findall(avoided)),
            )
        )
    return tuple(rows)


def pattern(term: str) -> re.Pattern[str]:
    """``term``, but not inside a longer katakana word."""
    before = f"(?<![{KATAKANA}])" if re.match(f"[{KATAKANA}]", term) else ""
    after = f"(?![{KATAKANA}])" if re.search(f"[{KATAKANA}]$", term) else ""
    return re.compile(before + re.escape(term) + after)


def texts(path: Path) -> list[tuple[str, str]]:
    """(where, text) pieces of a file: notebook cells or numbered lines."""
    if path.suffix == ".ipynb":
        notebook = json.loads(path.read_text(encoding="utf-8"))
        return [
            (f"cell {number}", "".join(cell["source"]))
            for number, cell in enumerate(notebook["cells"])
        ]
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(f"line {number}", line) for number, line in enumerate(lines, 1)]


def searched_files() -> list[Path]:
    """Everything a learner reads: notebooks, the deck, the messages."""
    return [
        *sorted((ROOT / "notebooks").rglob("*.ipynb")),
        DECK,
        *sorted((ROOT / "src" / "dblab").rglob("*.py")),
    ]


def avoided_terms() -> list[str]:
    return sorted({term for entry in entries() for term in entry.avoided})


def test_glossary_covers_the_course_terms():
    rows = entries()
    englishes = {entry.english for entry in rows}
    assert len(rows) >= 30, f"{GLOSSARY.name}: {len(rows)} rows only"
    missing = [
        term
        for term in REQUIRED
        if not any(term in english for english in englishes)
    ]
    assert not missing, f"no glossary row for {missing}"
    assert all(entry.used for entry in rows), [
        entry.english for entry in rows if not entry.used
    ]
    assert "住所" in avoided_terms()


def test_no_term_is_both_used_and_avoided():
    used = {term for entry in entries() for term in entry.used}
    assert not used & set(avoided_terms())


def test_katakana_terms_match_whole_words_only():
    assert pattern("ヘッド").search("head (ヘッド)")
    assert not pattern("ヘッド").search("速度のオーバーヘッド")
    assert not pattern("プレースホルダ").search("? のプレースホルダーで")
    assert pattern("プレースホルダ").search("? のプレースホルダを使う")
    assert not pattern("スタンプ").search("日付やタイムスタンプ")
    assert pattern("住所").search("利用者の住所の一覧")


def test_every_used_term_appears_in_the_course():
    course = "\n".join(
        text
        for path in [*sorted((ROOT / "notebooks").glob("*.ipynb")), DECK]
        for _where, text in texts(path)
    )
    unused = [
        term
        for entry in entries()
        for term in entry.used
        if not pattern(term).search(course)
    ]
    assert not unused, f"glossary terms no notebook or slide uses: {unused}"


@pytest.mark.parametrize(
    "path",
    searched_files(),
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_no_avoided_term(path: Path):
    terms = avoided_terms()
    hits = [
        f"{path.relative_to(ROOT)} {where}: {term!r} … "
        f"{text[max(0, match.start() - 20) : match.end() + 20]!r}"
        for where, text in texts(path)
        for term in terms
        for match in pattern(term).finditer(text)
    ]
    assert not hits, "docs/glossary.md で使わない言葉:\n" + "\n".join(hits)
