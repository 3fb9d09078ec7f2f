"""The deck builds, exports to a PDF, and is legible on a projector.

The build and the export run once per session, side by side (see
``conftest.py``). ``check_deck.mjs`` then opens every slide of the built
deck, served over HTTP from a sub-path as a lecture room would, in one
headless Chromium session at 1280x720 and measures what the room sees:
overflow, the smallest code on screen, the contrast of every text, faded
text, line boxes of headings and diagram labels, the share of the slide a
diagram fills, phrase breaks, and the notes of the presenter view.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import slidedeck
from slidedeck import require

CHECK = Path(__file__).with_name("check_deck.mjs")
# fonts of the deck's `fonts: sans` list that have Japanese glyphs
JAPANESE_FONTS = {
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Hiragino Sans",
    "Yu Gothic",
    "Meiryo",
}
MIN_CODE_PX = 18  # on a 1280 px wide screen (~14 CSS px on the canvas)
MIN_CONTRAST = 4.5  # WCAG AA for body text
MIN_DIAGRAM_SHARE = 0.5  # of the slide's width or height
JAPANESE_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]{12,}")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def deck_url(built_deck: Path) -> Iterator[str]:
    """The built deck on http://127.0.0.1:<port>/lecture/."""
    handler = functools.partial(QuietHandler, directory=str(built_deck.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/{built_deck.name}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def report(deck_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every slide measured once, in one browser session."""
    require("chromium")
    output = slidedeck.run_tool(
        "node",
        str(CHECK),
        str(slidedeck.SLIDES),
        deck_url,
        str(tmp_path_factory.mktemp("chromium") / "profile"),
        str(len(slidedeck.slides())),
        ",".join(  # the slides whose diagrams must be drawn before measuring
            str(slide.number)
            for slide in slidedeck.slides()
            if "```mermaid" in slide.text
        ),
    )
    return json.loads(output.strip().splitlines()[-1])


def shown(report: dict) -> list[tuple[int, dict]]:
    return [(int(n), s) for n, s in sorted(report["slides"].items(), key=_n)]


def _n(item: tuple[str, dict]) -> int:
    return int(item[0])


def first_slide(predicate) -> slidedeck.Slide:
    for slide in slidedeck.slides():
        if predicate(slide):
            return slide
    raise AssertionError("該当するスライドがありません")


def problems(found: list[str], what: str) -> None:
    assert not found, f"{what}:\n" + "\n".join(found)


@pytest.mark.deck_job("build")
def test_build_is_a_static_site_with_relative_paths(built_deck: Path) -> None:
    index = (built_deck / "index.html").read_text(encoding="utf-8")
    assert "<title>alembic によるデータベース管理と Migration" in index
    # --base ./ : every asset is addressed relative to index.html
    assets = re.findall(r'(?:src|href)="([^"]+)"', index)
    assert assets and all(a.startswith("./") for a in assets), assets
    remote = re.findall(r'(?:src|href)="(https?://[^"]+)"', index)
    assert remote == [], f"外部への参照 (remote reference): {remote}"


@pytest.mark.deck_job("build")
def test_every_slide_renders_offline_in_japanese(report: dict) -> None:
    deck = slidedeck.slides()
    assert len(report["slides"]) == len(deck)
    assert report["lang"] == "ja"
    assert report["errors"] == [], report["errors"]
    assert report["remote"] == [], f"外部への通信: {report['remote']}"
    title = report["slides"]["1"]
    assert "alembic によるデータベース管理と Migration" in title["text"]
    assert set(title["headingFonts"]) & JAPANESE_FONTS, title["headingFonts"]
    head = slidedeck.headmatter()
    for field in ("lecturer", "date", "course"):
        value = re.search(rf"^{field}: (.+)$", head, re.M).group(1)
        assert value.strip("'\"") in title["text"], field  # from frontmatter

    code = first_slide(lambda s: "<<< @/snippets/orm_crud.py#model" in s.text)
    drawn = report["slides"][str(code.number)]
    assert "class User(Base):" in drawn["text"]
    assert "from sqlalchemy.orm import DeclarativeBase" in drawn["text"]
    assert drawn["codeBlocks"] == 1 and drawn["shikiSpans"] > 20
    er = first_slide(lambda s: "erDiagram" in s.text)
    drawn = report["slides"][str(er.number)]
    assert drawn["mermaid"] == 1, "Mermaid の図が SVG になっていない"
    assert "addresses" in drawn["mermaidText"]
    assert "employees" in drawn["mermaidText"]
    # the slide number is on screen: "12 / 70"
    for number, slide in shown(report):
        assert slide["number"] == f"{number} / {len(deck)}", slide["number"]


@pytest.mark.deck_job("build")
def test_nothing_overflows_its_slide(report: dict) -> None:
    problems(
        [
            f"  スライド {n} 「{s['title']}」: {item}"
            for n, s in shown(report)
            for item in s["overflow"][:3]
        ],
        "スライドからはみ出す文字 (overflow, 1280x720)",
    )


@pytest.mark.deck_job("build")
def test_code_is_at_least_18_px_on_screen(report: dict) -> None:
    sizes = [px for _, s in shown(report) for px, _ in s["codePx"]]
    assert len(sizes) > 500, "コードが見つからない"
    problems(
        [
            f"  スライド {n}: {px:.1f} px {what}"
            for n, s in shown(report)
            for px, what in s["codePx"]
            if px < MIN_CODE_PX
        ][:20],
        f"{MIN_CODE_PX} px より小さいコード",
    )


@pytest.mark.deck_job("build")
def test_every_text_has_contrast_and_nothing_is_faded(report: dict) -> None:
    found = []
    for n, s in shown(report):
        for ratio, what in s["contrast"]:
            if ratio is None:
                found.append(f"  スライド {n}: 画像の上の文字 {what}")
            elif ratio < MIN_CONTRAST:
                found.append(f"  スライド {n}: {ratio}:1 {what}")
        found += [f"  スライド {n}: 薄い {what}" for what in s["faded"]]
    comments = [
        ratio
        for _, s in shown(report)
        for ratio, what in s["contrast"]
        if '"#' in what and ratio is not None
    ]
    assert comments, "コードのコメントが測られていない"
    problems(found[:20], f"コントラスト {MIN_CONTRAST}:1 未満か、薄い文字")


@pytest.mark.deck_job("build")
def test_headings_and_diagram_labels_keep_one_line(report: dict) -> None:
    found = [
        f"  スライド {n}: 見出しが {lines} 行「{text}」"
        for n, s in shown(report)
        for lines, text in s["headings"]
        if lines != 1
    ]
    found += [
        f"  スライド {n}: 図のラベル {label}"
        for n, s in shown(report)
        for label in s["labels"]
    ]
    problems(found, "折り返した見出し・図のラベル")


@pytest.mark.deck_job("build")
def test_diagrams_fill_their_slide(report: dict) -> None:
    diagrams = [
        (n, width, height)
        for n, s in shown(report)
        for width, height in s["diagramShare"]
    ]
    assert len(diagrams) >= 4
    problems(
        [
            f"  スライド {n}: 幅 {w:.0%}・高さ {h:.0%}"
            for n, w, h in diagrams
            if max(w, h) < MIN_DIAGRAM_SHARE
        ],
        f"スライドの {MIN_DIAGRAM_SHARE:.0%} に満たない図",
    )


@pytest.mark.deck_job("build")
def test_japanese_breaks_at_phrases_put_in_at_build_time(
    report: dict,
) -> None:
    found = []
    for slide in slidedeck.slides():
        prose = _prose(slide.text)
        if JAPANESE_RUN.search(prose):
            if report["slides"][str(slide.number)]["wbr"] == 0:
                found.append(f"  スライド {slide.number}「{slide.title}」")
    problems(found, "日本語の文に <wbr> (BudouX の文節区切り) がない")
    style = (slidedeck.SLIDES / "style.css").read_text(encoding="utf-8")
    assert "word-break: keep-all" in style
    assert "auto-phrase" not in style  # Chromium only


@pytest.mark.deck_job("build")
def test_presenter_view_shows_the_notes(report: dict) -> None:
    deck = slidedeck.slides()
    assert len(report["presenter"]) == 3
    for number, text in report["presenter"].items():
        note = slidedeck.notes(deck[int(number) - 1])
        assert note, number
        first = note.split("\n")[0].strip()[:30]
        assert first in text, (number, first, text[:80])


@pytest.mark.deck_job("export")
def test_pdf_has_a_page_per_slide_and_a_cjk_font(exported_pdf: Path) -> None:
    require("pdffonts", "pdfinfo")
    info = slidedeck.run_tool("pdfinfo", str(exported_pdf))
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert pages == len(slidedeck.slides())
    fonts = slidedeck.run_tool("pdffonts", str(exported_pdf))
    rows = [row.split() for row in fonts.splitlines()[2:]]
    assert rows and all(row[-5] == "yes" for row in rows), fonts  # emb
    # Chromium embeds a TrueType font under its name, but draws the glyphs
    # of a CFF font -- Noto Sans CJK is one -- as unnamed Type 3 fonts.
    # Without any CJK font, Japanese would come out as boxes from a
    # TrueType fallback font and no Type 3 font would appear.
    named_cjk = [row for row in rows if "CJK" in row[0]]
    type3 = [row for row in rows if row[1:3] == ["Type", "3"]]
    assert named_cjk or len(type3) > 10, (
        f"CJK フォントが埋め込まれていない (日本語が豆腐になる):\n{fonts}"
    )
    text = slidedeck.run_tool(
        "pdftotext", "-f", "1", "-l", "1", str(exported_pdf), "-"
    )
    assert "alembicによるデータベース管理とMigration" in "".join(text.split())


def _prose(markdown: str) -> str:
    """A slide's Markdown text without code, diagrams, notes and tags."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<[^>]+>|^<<<.*$|`[^`]*`", "", text, flags=re.M)
    return text
