"""``dblab reset``: remove the sandboxes a class left behind.

A notebook's sandbox is dropped when the kernel ends normally, but a
crashed kernel, a closed laptop or a restarted server leaves
``dblab_<login>_<purpose>_<random>`` databases on the servers and folders
under the work folder. This command finds them on every configured server
(``DBLAB_DATABASE_URL``, ``DBLAB_POSTGRES_URL``, ``DBLAB_MYSQL_URL``, or
the ``--url`` given) and in ``<work>/sandboxes``, lists them, and drops
them unless ``--dry-run``.

What is removed: only names that look like throw-away sandboxes (never
the long-lived ``dblab_<login>_target_<env>`` targets, never the
maintenance database of a URL), and of those only the caller's own: on
MariaDB the names with its prefix ``dblab_<login>_``, on PostgreSQL the
sandboxes its role owns (also those from older kit versions). An admin
URL (a PostgreSQL superuser, a MariaDB account with global DROP) removes
every learner's. What it leaves alone is counted and said.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from dblab import progress, servers, settings
from dblab.errors import DblabError

# Throw-away names only: sandboxes (dblab_<login>_<purpose>_<8 hex>, or
# dblab_<purpose>_<8 hex> from older kit versions) and the random target
# sets of notebook 09 and the tests (dblab_<...8 hex>_<env>). The
# long-lived targets (dblab_<login>_target_<env>) are a learner's own
# "real" databases and are never reset.
SANDBOX_NAME = re.compile(
    r"^dblab_(?![a-z0-9]*_?target_)[a-z0-9_]*[0-9a-f]{8}"
    r"(_(dev|staging|production))?$"
)
VARIABLES = ("DBLAB_DATABASE_URL", "DBLAB_POSTGRES_URL", "DBLAB_MYSQL_URL")


def matches(name: str, purpose: str | None = None) -> bool:
    """Whether ``name`` is a throw-away sandbox (of ``purpose``, if given)."""
    if not SANDBOX_NAME.match(name):
        return False
    if not purpose:
        return True
    slug = re.sub(r"[^a-z0-9]+", "_", purpose.lower()).strip("_")
    tail = rf"_{re.escape(slug)}_[0-9a-f]{{8}}(_[a-z]+)?$"
    return re.search(tail, name) is not None


def configured_servers() -> list[URL]:
    """The distinct server URLs named by the kit's variables."""
    found: list[URL] = []
    for variable in VARIABLES:
        value = os.environ.get(variable, "").strip()
        if not value:
            continue
        url = settings.parse_url(value, variable)
        if url.get_backend_name() != "sqlite" and url not in found:
            found.append(url)
    return found


@dataclass
class Scope:
    """The sandboxes of one server: the caller's to remove, and the rest."""

    server: URL
    admin: bool
    mine: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)


def scope(server: URL, purpose: str | None = None) -> Scope:
    """Which sandbox databases on ``server`` this account should remove."""
    settings.check_reachable(server)
    admin = servers.is_admin(server)
    owned = servers.databases(server, droppable=True)
    visible = servers.databases(server, droppable=False)
    start = servers.own_prefix(server)
    postgres = server.get_backend_name() == "postgresql"
    found = Scope(server, admin)
    for name in visible:
        if not matches(name, purpose):
            continue
        own = name in owned if postgres else name.startswith(start)
        if admin or own:
            found.mine.append(name)
        else:
            found.others.append(name)
    return found


def sandbox_databases(server: URL, purpose: str | None = None) -> list[str]:
    """Names of the sandbox databases on ``server`` this reset removes."""
    return scope(server, purpose).mine


def sandbox_folders(purpose: str | None = None) -> list[Path]:
    """The sandbox folders under the work folder, sorted."""
    root = settings.work_dir() / "sandboxes"
    if not root.is_dir():
        return []
    return sorted(
        path
        for path in root.iterdir()
        if path.is_dir() and matches(path.name, purpose)
    )


def drop_database(server: URL, name: str) -> None:
    """Drop one sandbox database (closing its connections on PostgreSQL)."""
    if not SANDBOX_NAME.match(name) or name == server.database:
        raise ValueError(f"not a sandbox database: {name!r}")
    servers.drop_database(server, name)


def remove_folder(path: Path) -> str | None:
    """Remove a sandbox folder; return why it could not be, or None."""
    try:
        shutil.rmtree(path)
    except OSError as error:
        return error.strerror or str(error)
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="削除せずに、削除する対象を表示するだけ",
    )
    parser.add_argument(
        "--url",
        action="append",
        metavar="URL",
        help="このサーバーだけを対象にする (複数可; 省略時は "
        "DBLAB_DATABASE_URL・DBLAB_POSTGRES_URL・DBLAB_MYSQL_URL)",
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="演習の進捗の記録 (作業フォルダの progress.json) も消す "
        "(省略時は残す)",
    )
    parser.add_argument(
        "--purpose",
        help="目的 (dblab_<login>_<purpose>_...) が purpose の"
        "サンドボックスだけを対象にする",
    )


def _servers(args: argparse.Namespace) -> list[URL]:
    if not args.url:
        return configured_servers()
    urls = [settings.parse_url(value, "--url") for value in args.url]
    return [url for url in urls if url.get_backend_name() != "sqlite"]


def _reset_server(server: URL, args: argparse.Namespace) -> tuple[int, int]:
    """Reset one server; return (removed, problems)."""
    verb = "削除します (dry run)" if args.dry_run else "削除しました"
    where = (
        f"{settings.BACKENDS[server.get_backend_name()]} "
        f"({settings.describe(server)})"
    )
    try:
        found = scope(server, args.purpose)
    except DblabError as error:
        print(f"[NG ] {where}: {error}")
        return 0, 1
    except DBAPIError as error:
        print(f"[NG ] {where}: {settings.unreachable_message(server, error)}")
        return 0, 1
    if not found.mine:
        print(f"[OK ] {where}: 残っているサンドボックスはありません")
    count = problems = 0
    for name in found.mine:
        if not args.dry_run:
            try:
                drop_database(server, name)
            except DBAPIError as error:
                reason = str(error.orig).strip().splitlines()[0]
                print(f"[NG ] {where}: {name} を削除できません ({reason})")
                problems += 1
                continue
        mark = "--" if args.dry_run else "OK"
        print(f"[{mark} ] {where}: {name} を{verb}")
        count += 1
    if found.others:
        print(
            f"[-- ] {where}: ほかのアカウントのサンドボックス "
            f"{len(found.others)} 件には触れませんでした (skipped "
            f"{len(found.others)} not yours; 講師が管理者の URL で "
            "--url を指定すると削除できます)"
        )
    return count, problems


def _reset_progress(dry_run: bool) -> int:
    """Forget the exercise progress (only with ``--progress``)."""
    file = progress.path()
    if not file.exists():
        print(f"[OK ] 進捗 ({file}): 記録はありません")
        return 0
    if dry_run:
        print(f"[-- ] 進捗 ({file}): 演習の記録を削除します (dry run)")
        return 1
    progress.forget()
    print(f"[OK ] 進捗 ({file}): 演習の記録を削除しました")
    return 1


def run(args: argparse.Namespace) -> int:
    verb = "削除します (dry run)" if args.dry_run else "削除しました"
    problems = 0
    count = 0
    for server in _servers(args):
        removed, failed = _reset_server(server, args)
        count += removed
        problems += failed
    folders = sandbox_folders(args.purpose)
    where = f"作業フォルダ ({settings.work_dir() / 'sandboxes'})"
    if not folders:
        print(f"[OK ] {where}: 残っているサンドボックスはありません")
    for folder in folders:
        reason = None if args.dry_run else remove_folder(folder)
        if reason:
            print(
                f"[NG ] {where}: {folder.name} を削除できません ({reason})。"
                "使っているカーネルを止めてから、もう一度実行してください"
            )
            problems += 1
            continue
        mark = "--" if args.dry_run else "OK"
        print(f"[{mark} ] {where}: {folder.name} を{verb}")
        count += 1
    if getattr(args, "progress", False):
        count += _reset_progress(args.dry_run)
    action = "削除の対象" if args.dry_run else "削除したもの"
    print(f"\n{action}: {count} 件、問題: {problems} 件")
    return 1 if problems else 0
