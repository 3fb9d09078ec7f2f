"""Every code sample on a slide is a snippet file, and every snippet runs.

Scripts run in a fresh sandbox each, with ``DATABASE_URL`` pointing at it
(on SQLite, and on PostgreSQL / MariaDB when they are configured). The
split-migration revisions replace the versions of a sandbox's private
``migrations/`` copy and go up and down there; their result must match
the kit's own revisions. The deck's source is checked as well: no hand
written Python block, no import of a missing file or region, no snippet
that no slide shows or no test runs.
"""

from __future__ import annotations

import json
import re
import runpy
import shutil
from pathlib import Path

import pytest
import slidedeck
import sqlalchemy as sa
from sqlalchemy.engine import URL

from dblab import lint, migrate
from dblab import sandbox as sandboxes
from dblab.sandbox import Sandbox

# snippet -> (what it prints, tables it leaves in DATABASE_URL's database)
SCRIPTS: dict[str, tuple[list[str], set[str]]] = {
    "orm_crud.py": (
        ["Added user: John Doe, Email: john.doe@example.com"],
        {"users"},
    ),
    "sqlite3_crud.py": (
        ["Added user: John Doe, Email: john.doe@example.com"],
        {"users"},
    ),
    "injection.py": (["バインドパラメーター: []"], {"users"}),
    "relationships.py": (
        ["SELECT の回数 (selectinload): 2", "SELECT の回数 (遅延ロード): 4"],
        {"users", "addresses"},
    ),
    "inheritance.py": (["User alice", "Employee bob"], {"users", "employees"}),
    "fastapi_database.py": (
        ["{'db': 1}", "mysql+pymysql://app:p%40ss%2Fword@db/shop"],
        set(),
    ),
    "batched_update.py": (["2001〜2500 を更新", "残りの NULL: 0"], {"users"}),
    "row_counts.py": (["行数は同じ: {'users': 3}"], {"users"}),
}
SQLITE_ONLY = {"sqlite3_crud.py"}  # the standard library's sqlite3 module
REVISIONS = [
    "split_01_create_users.py",
    "split_02_add_users_age.py",
    "split_03_email_not_null.py",
]
CHAIN = ["fc269420a215", "71cc828891fc", "cf30bc1d0ee8"]


def snippet_files() -> set[str]:
    return {p.name for p in slidedeck.SNIPPETS.glob("*.py")}


# -- the deck's source ------------------------------------------------------


def test_no_python_block_is_written_by_hand() -> None:
    python = [
        f"slides.md:{line}: ```{lang}"
        for line, lang in slidedeck.fenced_languages()
        if lang in {"python", "py", "python3", "py3", "pycon", "ipython"}
    ]
    assert not python, (
        "スライドの Python は <<< @/snippets/NAME.py で読み込む "
        "(テストされるファイルから):\n" + "\n".join(python)
    )


def test_every_import_names_a_tested_file_and_region() -> None:
    imports = slidedeck.snippet_imports()
    assert len(imports) >= 20
    tested = set(SCRIPTS) | set(REVISIONS)
    problems = []
    for number, name, region in imports:
        path = slidedeck.SNIPPETS / name
        if not path.exists():
            problems.append(f"slide {number}: {name} がない")
        elif name not in tested:
            problems.append(f"slide {number}: {name} はテストされていない")
        elif region and region not in slidedeck.regions(path):
            problems.append(
                f"slide {number}: {name} に region {region} がない"
            )
    assert not problems, "\n".join(problems)
    # A line that starts like an import but does not parse as one would be
    # shown as text on the slide: catch typos such as `<<< snippets/x.py`.
    stray = [
        line
        for line in slidedeck.DECK.read_text(encoding="utf-8").splitlines()
        if line.startswith("<<<") and not slidedeck.SNIPPET_IMPORT.match(line)
    ]
    assert not stray, stray


def test_every_snippet_is_shown_and_tested() -> None:
    shown = {name for _, name, _ in slidedeck.snippet_imports()}
    files = snippet_files()
    assert files - shown == set(), "どのスライドにも使われていない snippet"
    assert files == set(SCRIPTS) | set(REVISIONS), "テストの一覧と食い違う"


def test_regions_are_well_formed() -> None:
    for path in slidedeck.SNIPPETS.glob("*.py"):
        slidedeck.regions(path)  # raises on an unclosed or stray marker


LECTURE_SLIDES = [
    "講義のアジェンダ",
    "2024 → today",
    "FastAPI でのデータベース操作",
    "SQLAlchemy の概要",
    "SQLAlchemy の基本的な使用方法",
    "SQLAlchemy の高度な機能",
    "リレーションシップの定義",
    "継承の利用",
    "ORM の基本概念",
    "ORM の利点と課題",
    "データベース操作 ORM 使用 - サンプル",
    "データベース操作 ORM 未使用 - サンプル",
    "FastAPI におけるデータベース接続",
    "マイグレーションのベストプラクティス",
    "分割してマイグレーションを行う",
    "本番環境への適用前のテスト",
    "バージョン管理の活用",
    "逆向きのマイグレーションの作成",
    "Alembic コマンドとマイグレーションファイル",
    "カラム追加のパターン",
    "アンチパターンの例",
    "アンチパターンの例 - 大規模な一括更新",
    "アンチパターンの例 - データの不整合",
    "アンチパターンの例 - 直接本番を変更する",
    "アンチパターンの例 - バックアップ計画の欠如",
    "アンチパターンの例 - 複雑なマイグレーション",
    "本番環境への移行",
    "まとめ",
    "Q&A",
]
NOTEBOOKS = sorted(
    path.stem
    for path in (slidedeck.ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
)


def test_deck_keeps_every_lecture_slide() -> None:
    titles = [slide.title for slide in slidedeck.slides()]
    missing = [title for title in LECTURE_SLIDES if title not in titles]
    assert not missing, f"講義のスライドがない: {missing}"
    text = slidedeck.DECK.read_text(encoding="utf-8")
    mermaid = re.findall(r"```mermaid[^\n]*\n(\w+)", text)
    assert mermaid.count("erDiagram") == 1
    assert mermaid.count("flowchart") >= 3
    assert "merge heads" in text  # the revision graph with a merge


def test_deck_follows_the_notebooks_in_order() -> None:
    """Each notebook slide names its file and time, in the kit's order."""
    deck = slidedeck.slides()
    cards = [s for s in deck if "notebook-slide" in s.frontmatter]
    assert [c.title.split(":")[0] for c in cards] == [
        f"ノートブック {stem[:2]}" for stem in NOTEBOOKS
    ]
    for card, stem in zip(cards, NOTEBOOKS, strict=True):
        assert f"`notebooks/{stem}.ipynb`" in card.text, stem
        notebook = slidedeck.ROOT / "notebooks" / f"{stem}.ipynb"
        heading = "".join(
            json.loads(notebook.read_text(encoding="utf-8"))["cells"][0][
                "source"
            ]
        )
        minutes = re.search(r"約 (\d+) 分", heading)
        assert minutes, (stem, heading[:80])
        assert f"所要時間 約 {minutes[1]} 分" in card.text, stem
        things = [line for line in card.lines if line.startswith("- ")]
        assert len(things) >= 3, f"{stem}: 授業ですることが書いていない"
    # Alembic's first steps come before the split migrations
    numbers = {c.title.split(":")[0]: c.number for c in cards}
    assert numbers["ノートブック 05"] < numbers["ノートブック 06"]
    alembic = next(s for s in deck if s.title.startswith("Alembic コマンド"))
    split = next(
        s for s in deck if s.title == "分割してマイグレーションを行う"
    )
    assert alembic.number < split.number


def test_headmatter_works_offline() -> None:
    head = slidedeck.headmatter()
    assert re.search(r"^theme: seriph$", head, re.M)
    assert re.search(r"^routerMode: hash$", head, re.M)
    assert re.search(r"^fonts:\n(?:  .*\n)*  provider: none$", head, re.M)
    assert not re.search(r"https?://", head), "リモートの画像やフォント"
    for slide in slidedeck.slides():
        assert "http" not in slide.frontmatter, slide.number
    package = (slidedeck.SLIDES / "package.json").read_text(encoding="utf-8")
    assert "--base ./" in package


def test_every_slide_has_speaker_notes_in_japanese() -> None:
    short = []
    for slide in slidedeck.slides():
        note = slidedeck.notes(slide)
        if not re.search(r"[\u3040-\u30ff]", note) or len(note) < 60:
            short.append(f"スライド {slide.number}「{slide.title}」")
    assert not short, "ノートがない、または短すぎる:\n" + "\n".join(short)
    long_notes = [
        slide
        for slide in slidedeck.slides()
        if len(slidedeck.notes(slide)) >= 150
    ]
    assert len(long_notes) >= len(slidedeck.slides()) * 0.6  # paragraphs


# -- the snippets run -------------------------------------------------------


SNIPPET_RUNS = [
    pytest.param(
        name,
        backend,
        marks=() if backend == "sqlite" else (pytest.mark.server,),
        id=f"{name}-{backend}",
    )
    for name in sorted(SCRIPTS)
    for backend in (
        ("sqlite",)
        if name in SQLITE_ONLY
        else ("sqlite", "postgresql", "mysql")
    )
]  # the sqlite3 example runs on SQLite only: not a skip, not a case


@pytest.mark.parametrize(("name", "backend"), SNIPPET_RUNS)
def test_snippet_runs_in_a_fresh_sandbox(
    name: str,
    backend: str,
    server: URL,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    printed, tables = SCRIPTS[name]
    with sandboxes.create(f"slides_{name[:-3]}", server=server) as box:
        box.engine.dispose()
        url = box.url.render_as_string(hide_password=False)
        monkeypatch.setenv("DATABASE_URL", url)
        runpy.run_path(str(slidedeck.SNIPPETS / name), run_name="__main__")
        out = capsys.readouterr().out
        for text in printed:
            assert text in out, f"{name} の出力に {text!r} がない:\n{out}"
        left = set(sa.inspect(box.engine).get_table_names())
        box.engine.dispose()
        assert left == tables, f"{name} が DATABASE_URL を使っていない?"


def install_revisions(box: Sandbox) -> Path:
    """Replace the sandbox's versions with the slides' revisions."""
    versions = box.migrations / "versions"
    shutil.rmtree(versions)
    versions.mkdir()
    for name in REVISIONS:
        shutil.copy(slidedeck.SNIPPETS / name, versions / name)
    return versions


def users_shape(box: Sandbox) -> dict[str, object]:
    inspector = sa.inspect(box.engine)
    columns = {
        c["name"]: (type(c["type"]).__name__, c["nullable"])
        for c in inspector.get_columns("users")
    }
    unique = sorted(
        tuple(u["column_names"])
        for u in inspector.get_unique_constraints("users")
    )
    if box.backend == "mysql":  # MariaDB reports a UNIQUE as an index too
        unique = sorted(
            set(unique)
            | {
                tuple(i["column_names"])
                for i in inspector.get_indexes("users")
                if i["unique"]
            }
        )
    return {
        "columns": columns,
        "pk": inspector.get_pk_constraint("users")["constrained_columns"],
        "unique": unique,
    }


def test_split_revisions_go_up_and_down(sandbox: Sandbox, server: URL) -> None:
    versions = install_revisions(sandbox)
    # The lecture's simple forms: the anti-pattern rules must pass; the
    # per-database lock rules (LK/RW) flag them on purpose (docs/lint.md).
    findings = lint.lint(versions, disable=lint.PER_DATABASE)
    assert findings == [], "dblab lint の指摘"
    assert [r.revision for r in migrate.revisions(sandbox)] == CHAIN

    assert migrate.upgrade(sandbox, CHAIN[1]) == (CHAIN[1],)
    users = sa.table(
        "users", sa.column("id"), sa.column("name"), sa.column("email")
    )
    rows = [{"id": i, "name": f"u{i}", "email": None} for i in (1, 2, 3)]
    rows.append({"id": 4, "name": "u4", "email": "u4@example.com"})
    with sandbox.engine.begin() as connection:
        connection.execute(users.insert(), rows)

    assert migrate.upgrade(sandbox, "head") == (CHAIN[2],)
    with sandbox.engine.connect() as connection:
        emails = dict(
            connection.execute(sa.select(users.c.id, users.c.email)).all()
        )
    assert emails == {
        1: "unknown-1@example.invalid",
        2: "unknown-2@example.invalid",
        3: "unknown-3@example.invalid",
        4: "u4@example.com",
    }
    slide_shape = users_shape(sandbox)
    assert slide_shape["columns"]["email"][1] is False

    # the slides' revisions build the same table as the kit's own
    with sandboxes.create("slides_kit", server=server, migrations=True) as kit:
        migrate.upgrade(kit, CHAIN[2])
        assert users_shape(kit) == slide_shape
        kit.engine.dispose()

    assert migrate.downgrade(sandbox, CHAIN[1]) == (CHAIN[1],)
    with sandbox.engine.connect() as connection:
        emails = dict(
            connection.execute(sa.select(users.c.id, users.c.email)).all()
        )
    assert emails == {1: None, 2: None, 3: None, 4: "u4@example.com"}

    assert migrate.downgrade(sandbox, "base") == ()
    assert "users" not in sa.inspect(sandbox.engine).get_table_names()
