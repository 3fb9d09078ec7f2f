"""Fixtures shared by every test: the three backends and their sandboxes.

A backend is SQLite (always), PostgreSQL when ``DBLAB_POSTGRES_URL`` is
set, MariaDB/MySQL when ``DBLAB_MYSQL_URL`` is set. A server that is not
configured or does not answer is skipped -- or, with
``DBLAB_REQUIRE_SERVERS=1`` (CI), fails the test with one clear line.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from dblab import migrate, settings
from dblab import sandbox as sandboxes
from dblab.errors import ServerUnreachable
from dblab.targets import Targets

BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.server),
    pytest.param("mysql", marks=pytest.mark.server),
]
VARIABLES = {"postgresql": "DBLAB_POSTGRES_URL", "mysql": "DBLAB_MYSQL_URL"}


@functools.cache
def _reachable(url: URL) -> str | None:
    try:
        settings.check_reachable(url)
    except ServerUnreachable as error:
        return str(error)
    return None


def server_url(backend: str) -> URL:
    """The server URL for ``backend``, or skip/fail the test."""
    if backend == "sqlite":
        return URL.create("sqlite")
    variable = VARIABLES[backend]
    url = (
        settings.postgres_url()
        if backend == "postgresql"
        else (settings.mysql_url())
    )
    problem = None
    if url is None:
        problem = f"{variable} が設定されていません (not set)"
    else:
        problem = _reachable(url)
    if problem:
        if settings.servers_required():
            pytest.fail(f"DBLAB_REQUIRE_SERVERS=1: {problem}", pytrace=False)
        pytest.skip(problem)
    return url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: ``sqlite``, ``postgresql``, ``mysql``."""
    return request.param


@pytest.fixture
def server(backend: str) -> URL:
    """The (maintenance) URL of the backend under test."""
    return server_url(backend)


@pytest.fixture(scope="module", params=BACKENDS)
def module_server(request: pytest.FixtureRequest) -> URL:
    """Like ``server``, for module-scoped fixtures (one sandbox per file)."""
    return server_url(request.param)


@pytest.fixture(scope="module", params=BACKENDS[1:])
def module_account_server(request: pytest.FixtureRequest) -> URL:
    """Like ``module_server``, for the servers only: what needs accounts
    (SQLite has none, so it is not a case rather than a skip)."""
    return server_url(request.param)


@pytest.fixture
def sandbox(
    server: URL, request: pytest.FixtureRequest
) -> Iterator[sandboxes.Sandbox]:
    """An empty sandbox with a private copy of migrations/."""
    box = sandboxes.create(
        request.node.originalname, server=server, migrations=True
    )
    yield box
    box.close()


@pytest.fixture(scope="module")
def reused_targets() -> Iterator[Callable[..., Targets]]:
    """``prepare(server, reuse=...)`` on one target set per server.

    CREATE DATABASE costs about half a second on PostgreSQL, so a test
    module empties and refills one set of dev / staging / production per
    server instead of making new ones; the sets are dropped at the end.
    """
    sets: dict[str, Targets] = {}

    def reuse(prepare: Callable[..., Targets], server: URL, **options):
        key = server.render_as_string(hide_password=False)
        made = prepare(server, reuse=sets.get(key), **options)
        sets[key] = made
        return made

    yield reuse
    for made in sets.values():
        made.drop()


def _write_revision(
    box: sandboxes.Sandbox,
    body: str,
    revision: str = "0badf00d0001",
    down: str | None = None,
) -> Path:
    """A revision after ``down`` (default: the only head) in box's copy."""
    if down is None:
        (down,) = migrate.heads(box)
    upgrade_body = textwrap.indent(textwrap.dedent(body).strip(), "    ")
    source = (
        f'"""test revision\n\nRevision ID: {revision}\n"""\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f"revision = {revision!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade():\n{upgrade_body}\n\n\n"
        "def downgrade():\n    pass\n"
    )
    path = box.migrations / "versions" / f"2024_05_01_0000-{revision}_x.py"
    path.write_text(source, encoding="utf-8")
    return path


@pytest.fixture
def add_revision() -> Callable[..., Path]:
    """``add_revision(box, body, revision=..., down=...)``: write a test
    revision whose ``upgrade()`` is ``body`` into a sandbox's versions."""
    return _write_revision


def _write_alembic_ini(box: sandboxes.Sandbox) -> Path:
    """The repository's alembic.ini pointed at box's migrations copy."""
    text = settings.ALEMBIC_INI.read_text(encoding="utf-8")
    text = text.replace("%(here)s/migrations", str(box.migrations))
    path = box.folder / "alembic.ini"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def alembic_ini() -> Callable[[sandboxes.Sandbox], Path]:
    """``alembic_ini(box)``: an ini for the ``alembic`` command on box."""
    return _write_alembic_ini


@pytest.fixture
def alembic_config(sandbox: sandboxes.Sandbox):
    """pytest-alembic's config: the Alembic config of the sandbox's copy."""
    return migrate.config(sandbox)


@pytest.fixture
def alembic_engine(sandbox: sandboxes.Sandbox):
    """pytest-alembic's engine: the sandbox's."""
    return sandbox.engine
