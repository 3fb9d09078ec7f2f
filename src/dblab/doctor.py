"""``dblab doctor``: is this machine ready for the course?

It reports versions, which databases answer, the work folder, whether
JupyterLab can draw Mermaid pictures (4.1 or newer), whether the server
account of ``DBLAB_DATABASE_URL`` is set up as ``docs/instructor.md``'s
recipe says, and leftovers of older kit versions (with the command that
removes them). Each line is a :class:`Finding`; anything *needed* that
fails makes the command exit 1 and says, in Japanese, what to do.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import re
import sqlite3
import tempfile
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from dblab import reset, servers, settings
from dblab.errors import DblabError

COURSE_SERVER = "講座のサーバー"
PROBE_LOGIN = "zz9probe"
"""A login no learner has: a grant covering it is too broad."""
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
        ("DBLAB_DATABASE_URL", COURSE_SERVER),
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


def _grants(server: URL) -> list[str]:
    """The database patterns of the MariaDB account's grants."""
    engine = servers.admin_engine(server)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SHOW GRANTS")).scalars().all()
    finally:
        engine.dispose()
    return [
        pattern.replace("``", "`")
        for row in rows
        for pattern in re.findall(r"ON `((?:[^`]|``)+)`\.\*", row)
    ]


def _like(pattern: str, name: str) -> bool:
    """Whether MariaDB's grant pattern ``pattern`` covers database ``name``."""
    parts = re.findall(r"\\.|%|_|[^\\%_]+", pattern)
    regex = "".join(
        ".*"
        if part == "%"
        else "."
        if part == "_"
        else re.escape(part[1:] if part.startswith("\\") else part)
        for part in parts
    )
    return re.fullmatch(regex, name, flags=re.IGNORECASE) is not None


def account(server: URL) -> Finding:
    """Is the account of ``server`` set up as the instructor recipe says?"""
    topic = "サーバーのアカウント"
    user = server.username or "(OS のユーザー)"
    if servers.is_admin(server):
        return Finding(
            topic,
            True,
            f"{user} は管理者です (admin account): `dblab reset` は全員の"
            "サンドボックスを削除します",
            needed=False,
        )
    mine = servers.own_prefix(server)
    if server.get_backend_name() == "postgresql":
        engine = servers.admin_engine(server)
        try:
            with engine.connect() as connection:
                may_create = connection.execute(
                    text(
                        "SELECT rolcreatedb FROM pg_roles"
                        " WHERE rolname = current_user"
                    )
                ).scalar()
        finally:
            engine.dispose()
        if not may_create:
            return Finding(
                topic,
                False,
                f"{user} に CREATEDB がありません (role lacks CREATEDB)。"
                "講師に docs/instructor.md のとおり作り直してもらってください",
            )
        return Finding(topic, True, f"{user}: CREATEDB あり、名前 {mine}*")
    patterns = _grants(server)
    other = f"{servers.PREFIX}{PROBE_LOGIN}_x_00000000"
    if any(_like(p, other) for p in patterns):
        return Finding(
            topic,
            False,
            f"{user} はほかの学習者のサンドボックスにも触れます (grant too "
            f"broad: {', '.join(patterns)})。講師は GRANT を "
            f"`{mine.replace('_', chr(92) + '_')}%` だけにしてください",
            needed=False,
        )
    if not any(_like(p, f"{mine}x_00000000") for p in patterns):
        return Finding(
            topic,
            False,
            f"{user} は {mine}* のデータベースを作れません (no grant on "
            f"`{mine.replace('_', chr(92) + '_')}%`)。講師に "
            "docs/instructor.md のとおり GRANT してもらってください",
        )
    return Finding(topic, True, f"{user}: 自分の名前 {mine}* だけに GRANT")


def leftovers(server: URL | None) -> Finding:
    """Sandboxes and targets left by older kit versions, and the fix."""
    found: list[str] = []
    root = settings.work_dir()
    mine = servers.own_prefix(server)
    folders = [p.name for p in reset.sandbox_folders()]
    old = [name for name in folders if not name.startswith(mine)]
    if old:
        found.append(f"作業フォルダの古いサンドボックス {len(old)} 件")
    if (root / "targets" / "dblab_target").is_dir():
        found.append("古いターゲットのフォルダ work/targets/dblab_target")
    command = "uv run dblab reset"
    if server is not None and server.get_backend_name() != "sqlite":
        found_ = reset.scope(server)
        names = [] if found_.admin else found_.mine
        legacy = [name for name in names if not name.startswith(mine)]
        if legacy:
            found.append(
                f"サーバーの古い名前のサンドボックス {len(legacy)} 件"
            )
    if not found:
        return Finding("古いキットの残り", True, "ありません", needed=False)
    return Finding(
        "古いキットの残り",
        False,
        f"{'、'.join(found)} (leftovers of older kit versions)。"
        f"`{command}` で削除できます (古いターゲットのフォルダは手で削除)",
        needed=False,
    )


def server_account(reachable: bool) -> list[Finding]:
    """The account and leftovers checks for ``DBLAB_DATABASE_URL``.

    ``reachable``: whether :func:`databases` could reach it (if not, it
    already said so, and nothing more is asked of the server).
    """
    try:
        server = settings.database_url()
    except DblabError:
        return []  # databases() already said what is wrong
    if server.get_backend_name() == "sqlite":
        return [leftovers(None)]
    if not reachable:
        return []
    try:
        return [account(server), leftovers(server)]
    except (DblabError, DBAPIError) as error:
        reason = (
            str(error)
            if isinstance(error, DblabError)
            else settings.unreachable_message(server, error)
        )
        return [Finding("サーバーのアカウント", False, reason, needed=False)]


def report() -> list[Finding]:
    """Everything doctor checks, in the order it prints."""
    found = databases()
    reachable = any(f.topic == COURSE_SERVER and f.ok for f in found)
    return [
        *versions(),
        jupyterlab(),
        work_folder(),
        *found,
        *server_account(reachable),
    ]


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
