"""A fresh, isolated database for one notebook or one test.

On SQLite a sandbox is a file in its own folder under the kit's work
folder; on PostgreSQL or MariaDB it is a new database named
``dblab_<login>_<purpose>_<random>`` beside the maintenance database of
the server URL (``<login>``: the URL's user, so learners sharing a server
never meet; on PostgreSQL only its owner may connect). With
``migrations=True`` the folder also holds a private copy of the kit's
``migrations/``, so a learner can add revisions without touching the
repository. ``close()`` drops the database and removes the folder;
re-running a notebook never meets an earlier run's database.
"""

from __future__ import annotations

import atexit
import shutil
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import URL

from dblab import servers, settings
from dblab.errors import SettingsError


class Sandbox(servers.KitDatabase):
    """One throw-away database, with a folder for files that belong to it.

    ``close()`` drops the database and removes the folder.
    """

    kind = "Sandbox"

    def __init__(
        self,
        name: str,
        url: URL,
        folder: Path,
        server: URL | None,
        *,
        transactional_sqlite: bool = True,
        cache_statements: bool = True,
    ) -> None:
        cache = servers.cache_options(cache_statements)
        engine = None if transactional_sqlite else create_engine(url, **cache)
        super().__init__(
            name,
            url,
            folder,
            server,
            engine,
            cache_statements=cache_statements,
        )
        atexit.register(self.close)

    @property
    def migrations(self) -> Path:
        """This sandbox's private copy of ``migrations/``."""
        path = self.folder / "migrations"
        if not path.exists():
            raise FileNotFoundError(
                f"{self.name} は migrations のコピーを持っていません "
                "(create the sandbox with migrations=True)"
            )
        return path

    def close(self) -> None:
        """Drop the database and remove the folder (safe to call twice)."""
        if self.closed:
            return
        self.closed = True
        self.engine.dispose()
        if self.server is not None:
            servers.drop_database(self.server, self.name)
        shutil.rmtree(self.folder, ignore_errors=True)
        atexit.unregister(self.close)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"{super().__repr__()[:-1]}, {state})"


def create(
    purpose: str,
    *,
    server: URL | None = None,
    migrations: bool = False,
    transactional_sqlite: bool = True,
    cache_statements: bool = True,
) -> Sandbox:
    """Create a sandbox on ``server`` (default: ``DBLAB_DATABASE_URL``).

    ``transactional_sqlite=False`` keeps the sqlite3 driver's own
    transaction handling, which does not roll back DDL (notebook 08 shows
    the difference). ``cache_statements=False`` gives the engine no
    statement cache (the capstone's grader: see
    :func:`dblab.checks.zero_downtime.trial.make_trial`).
    """
    if server is None:
        server = settings.database_url()
    name = sandbox_name(purpose, server)
    folder = _make_folder(name)
    if migrations:
        shutil.copytree(
            settings.MIGRATIONS,
            folder / "migrations",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    if server.get_backend_name() == "sqlite":
        url = URL.create("sqlite", database=str(folder / "database.sqlite"))
        return Sandbox(
            name,
            url,
            folder,
            None,
            transactional_sqlite=transactional_sqlite,
            cache_statements=cache_statements,
        )
    try:
        servers.create_database(server, name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    url = server.set(database=name)
    if server.get_backend_name() == "mysql" and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return Sandbox(
        name, url, folder, server, cache_statements=cache_statements
    )


def _make_folder(name: str) -> Path:
    folder = settings.work_dir() / "sandboxes" / name
    try:
        folder.mkdir(parents=True)
    except OSError as error:
        raise SettingsError(
            f"作業フォルダ {folder.parent} にサンドボックスを作れません "
            f"(cannot write the work folder: {error.strerror})。"
            "DBLAB_WORK_DIR を書き込めるフォルダにしてください。"
        ) from None
    return folder


def sandbox_name(purpose: str, server: URL | None = None) -> str:
    """``dblab_<login>_<purpose>_<random>`` (see :mod:`dblab.servers`)."""
    return servers.sandbox_name(purpose, server)
