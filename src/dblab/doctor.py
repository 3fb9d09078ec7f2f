"""``dblab doctor``: is this machine ready for the course?

It reports versions, which databases answer, the work folder, and whether
JupyterLab can draw Mermaid pictures (4.1 or newer). Each line is a
:class:`Finding`; anything *needed* that fails makes the command exit 1
and says, in Japanese, what to do.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sqlite3
import tempfile
from dataclasses import dataclass

from dblab import settings
from dblab.errors import DblabError

PACKAGES = [
    "sqlalchemy",
    "alembic",
    "pandas",
    "fastapi",
    "jupyterlab",
    "psycopg",
    "pymysql",
    "matplotlib-fontja",
]


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    topic: str
    ok: bool
    detail: str
    needed: bool = True  # a failure here makes doctor exit non-zero

    def __str__(self) -> str:
        mark = "OK " if self.ok else ("NG " if self.needed else "-- ")
        return f"[{mark}] {self.topic}: {self.detail}"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions() -> list[Finding]:
    """Python and the packages the course imports."""
    found = [Finding("Python", True, platform.python_version())]
    for package in PACKAGES:
        version = _version(package)
        found.append(
            Finding(
                package,
                version is not None,
                version
                or "インストールされていません。`uv sync` を実行してください",
            )
        )
    return found


def jupyterlab() -> Finding:
    """JupyterLab 4.1+ renders Mermaid (ER diagrams, revision graphs)."""
    version = _version("jupyterlab")
    if version is None:
        return Finding("Mermaid", False, "JupyterLab がありません")
    major, minor = (int(p) for p in version.split(".")[:2])
    ok = (major, minor) >= (4, 1)
    detail = (
        f"JupyterLab {version} は Mermaid の図を描画できます"
        if ok
        else f"JupyterLab {version} は古すぎます。4.1 以降にしてください"
    )
    return Finding("Mermaid", ok, detail)


def work_folder() -> Finding:
    """The work folder must exist and be writable."""
    try:
        folder = settings.work_dir()
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as error:
        return Finding(
            "作業フォルダ",
            False,
            f"書き込めません ({error.strerror}): DBLAB_WORK_DIR を"
            "書き込めるフォルダにしてください",
        )
    return Finding("作業フォルダ", True, str(folder))


def databases() -> list[Finding]:
    """SQLite always; each configured server, reached or not."""
    found = [Finding("SQLite", True, f"{sqlite3.sqlite_version} (組み込み)")]
    for variable, label in [
        ("DBLAB_DATABASE_URL", "講座のサーバー"),
        ("DBLAB_POSTGRES_URL", "PostgreSQL"),
        ("DBLAB_MYSQL_URL", "MySQL/MariaDB"),
    ]:
        value = os.environ.get(variable, "").strip()
        if not value:
            found.append(
                Finding(
                    label, False, f"{variable} 未設定 (任意)", needed=False
                )
            )
            continue
        try:
            url = settings.parse_url(value, variable)
            version = settings.check_reachable(url)
        except DblabError as error:
            found.append(Finding(label, False, str(error)))
            continue
        short = version.split(" on ")[0].split(",")[0]
        found.append(
            Finding(label, True, f"{settings.describe(url)} — {short}")
        )
    return found


def report() -> list[Finding]:
    """Everything doctor checks, in the order it prints."""
    return [*versions(), jupyterlab(), work_folder(), *databases()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quiet", action="store_true", help="問題のある行だけ表示する"
    )


def run(args: argparse.Namespace) -> int:
    findings = report()
    for finding in findings:
        if not (args.quiet and finding.ok):
            print(finding)
    problems = [f for f in findings if f.needed and not f.ok]
    if problems:
        count = len(problems)
        print(f"\n{count} 件の問題があります。NG の行を直してください。")
        return 1
    print("\n準備完了です (ready)。")
    return 0
