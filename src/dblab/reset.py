"""``dblab reset``: remove the sandboxes a class left behind.

A notebook's sandbox is dropped when the kernel ends normally, but a
crashed kernel, a closed laptop or a restarted server leaves
``dblab_<purpose>_<random>`` databases on the servers and folders under
the work folder. This command finds them on every configured server
(``DBLAB_DATABASE_URL``, ``DBLAB_POSTGRES_URL``, ``DBLAB_MYSQL_URL``, or
the ``--url`` given) and in ``<work>/sandboxes``, lists them, and drops
them unless ``--dry-run``. Only names that look like sandboxes are
touched; the maintenance database of a URL never is. On PostgreSQL only
the databases the connecting role owns are candidates, so a learner's
reset on a shared server leaves other learners' sandboxes alone.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from dblab import sandbox, settings
from dblab.errors import DblabError

# Throw-away names only: sandboxes (dblab_<purpose>_<8 hex>) and the
# random target sets of notebook 09 and the tests (dblab_<8 hex>_<target>).
# The long-lived targets (dblab_target_<name>) are a learner's own "real"
# databases and are never reset.
SANDBOX_NAME = re.compile(
    r"^dblab_(?!target_)[a-z0-9_]*[0-9a-f]{8}(_(dev|staging|production))?$"
)
VARIABLES = ("DBLAB_DATABASE_URL", "DBLAB_POSTGRES_URL", "DBLAB_MYSQL_URL")


def prefix(purpose: str | None = None) -> str:
    """The name prefix of the sandboxes to remove (all: ``dblab_``)."""
    if not purpose:
        return "dblab_"
    return sandbox.sandbox_name(purpose).rsplit("_", 1)[0] + "_"


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


def sandbox_databases(server: URL, purpose: str | None = None) -> list[str]:
    """Names of the sandbox databases on ``server``, sorted."""
    settings.check_reachable(server)
    if server.get_backend_name() == "mysql":
        query = "SELECT schema_name FROM information_schema.schemata"
    else:
        # only the databases this role may drop (all, for a superuser)
        query = (
            "SELECT datname FROM pg_database"
            " WHERE pg_has_role(current_user, datdba, 'MEMBER')"
        )
    engine = sandbox.admin_engine(server)
    try:
        with engine.connect() as connection:
            names = connection.execute(text(query)).scalars().all()
    finally:
        engine.dispose()
    start = prefix(purpose)
    return sorted(
        name
        for name in names
        if name.startswith(start)
        and SANDBOX_NAME.match(name)
        and name != server.database
    )


def sandbox_folders(purpose: str | None = None) -> list[Path]:
    """The sandbox folders under the work folder, sorted."""
    root = settings.work_dir() / "sandboxes"
    if not root.is_dir():
        return []
    start = prefix(purpose)
    return sorted(
        path
        for path in root.iterdir()
        if path.is_dir()
        and path.name.startswith(start)
        and SANDBOX_NAME.match(path.name)
    )


def drop_database(server: URL, name: str) -> None:
    """Drop one sandbox database (closing its connections on PostgreSQL)."""
    if not SANDBOX_NAME.match(name) or name == server.database:
        raise ValueError(f"not a sandbox database: {name!r}")
    sandbox.drop_database(server, name)


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
        "--purpose",
        help="名前が dblab_<purpose>_ で始まるサンドボックスだけを対象にする",
    )


def _servers(args: argparse.Namespace) -> list[URL]:
    if not args.url:
        return configured_servers()
    urls = [settings.parse_url(value, "--url") for value in args.url]
    return [url for url in urls if url.get_backend_name() != "sqlite"]


def run(args: argparse.Namespace) -> int:
    verb = "削除します (dry run)" if args.dry_run else "削除しました"
    problems = 0
    count = 0
    for server in _servers(args):
        where = (
            f"{settings.BACKENDS[server.get_backend_name()]} "
            f"({settings.describe(server)})"
        )
        try:
            names = sandbox_databases(server, args.purpose)
        except DblabError as error:
            print(f"[NG ] {where}: {error}")
            problems += 1
            continue
        if not names:
            print(f"[OK ] {where}: 残っているサンドボックスはありません")
        for name in names:
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
    action = "削除の対象" if args.dry_run else "削除したもの"
    print(f"\n{action}: {count} 件、問題: {problems} 件")
    return 1 if problems else 0
