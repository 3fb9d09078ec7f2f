"""The deck builds, exports to a PDF with a CJK font, and renders in Chromium.

The build and the export run once per session, side by side (see
``conftest.py``); the browser test serves the built deck from a sub-path
of a local static server, as a lecture room would, and opens slides in
headless Chromium through playwright-chromium.
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

RENDER = Path(__file__).with_name("render_deck.mjs")
# fonts of the deck's `fonts: sans` list that have Japanese glyphs
JAPANESE_FONTS = {
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Hiragino Sans",
    "Yu Gothic",
    "Meiryo",
}


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


def first_slide(predicate) -> slidedeck.Slide:
    for slide in slidedeck.slides():
        if predicate(slide):
            return slide
    raise AssertionError("該当するスライドがありません")


@pytest.mark.deck_job("build")
def test_build_is_a_static_site_with_relative_paths(built_deck: Path) -> None:
    index = (built_deck / "index.html").read_text(encoding="utf-8")
    assert "<title>alembic によるデータベース管理と Migration" in index
    # --base ./ : every asset is addressed relative to index.html
    assets = re.findall(r'(?:src|href)="([^"]+)"', index)
    assert assets and all(a.startswith("./") for a in assets), assets
    assert (built_deck / "cover.svg").exists()
    remote = re.findall(r'(?:src|href)="(https?://[^"]+)"', index)
    assert remote == [], f"外部への参照 (remote reference): {remote}"


@pytest.mark.deck_job("build")
def test_deck_renders_in_headless_chromium(
    deck_url: str, tmp_path: Path
) -> None:
    require("chromium")
    title = 1
    code = first_slide(lambda s: "<<< @/snippets/orm_crud.py#model" in s.text)
    mermaid = first_slide(lambda s: "erDiagram" in s.text)
    numbers = [str(title), str(code.number), f"{mermaid.number}:mermaid"]
    output = slidedeck.run_tool(
        "node",
        str(RENDER),
        str(slidedeck.SLIDES),
        deck_url,
        str(tmp_path / "profile"),
        *numbers,
    )
    report = json.loads(output.strip().splitlines()[-1])
    shown = report["slides"]

    assert "alembic によるデータベース管理と Migration" in shown["1"]["text"]
    drawn_with = {font["family"] for font in shown["1"]["headingFonts"]}
    assert drawn_with & JAPANESE_FONTS, (
        f"日本語のフォントで描かれていない: {drawn_with}"
    )

    code_slide = shown[str(code.number)]
    assert code.title in code_slide["text"]
    assert "class User(Base):" in code_slide["text"]
    assert code_slide["codeBlocks"] == 1
    assert code_slide["shikiSpans"] > 20, "コードが色分けされていない"

    drawn = shown[str(mermaid.number)]
    assert drawn["mermaidSvgs"] == 1, "Mermaid の図が SVG になっていない"
    assert "addresses" in drawn["mermaidText"]
    assert "employees" in drawn["mermaidText"]

    assert report["errors"] == [], report["errors"]
    assert report["remote"] == [], f"外部への通信: {report['remote']}"


@pytest.mark.deck_job("export")
def test_pdf_export_embeds_a_cjk_font(exported_pdf: Path) -> None:
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
