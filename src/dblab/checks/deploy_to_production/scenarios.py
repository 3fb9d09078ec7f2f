"""Scenarios of notebook 09: targets, prepared revisions, the CI example.

:func:`make_targets` builds dev / staging / production with a private
``migrations/`` copy under the targets' folder, production seeded;
:func:`add_revision` writes one of the prepared revisions into it:

- ``INDEX``: an index on ``users.name`` written naively (PostgreSQL
  blocks writes while it builds: lint LK101);
- ``INDEX_SAFE``: the same revision, ``CONCURRENTLY`` inside
  ``autocommit_block()`` (lints clean);
- ``UNIQUE``: UNIQUE on ``users.name`` -- passes on an empty dev database,
  fails on a copy of production (seeded names repeat);
- ``DROP_INDEX``: "cleanup" of that index -- a query becomes a full scan;
- ``FAIL_IN_PRODUCTION``: the index, then an error only where the
  database is named production (a failure the rehearsal cannot see);
- ``AGE_FOR_NAME`` (exercise 1): an index on age, ix_users_name dropped;
- ``NICKNAME_REQUIRED`` (exercise 3): a required column the old app does
  not send.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.engine import URL

from dblab import deploy, revisions, settings, targets
from dblab.deploy import example_app
from dblab.safety.health import Check

HEAD = revisions.HEAD
SECTION_PLAN = "09_deploy_to_production「計画: 適用待ちの revision」"
SECTION_ROLLBACK = "09_deploy_to_production「ロールバック」"
SECTION_REHEARSAL = "09_deploy_to_production「リハーサル」"

CI_FILE = settings.ROOT / "docs" / "ci" / "migrations.yml"
CI_SETUP = ["uv sync --locked"]
"""The ``run:`` lines before :data:`CI_COMMANDS` (installing only)."""
CI_COMMANDS = [
    f"uv run dblab lint --since {revisions.HEAD}",
    "uv run pytest -q -p no:cacheprovider -n 0 tests/kit/test_migrations.py"
    ' tests/kit/test_stairway.py -k "sqlite and (single_head or'
    ' up_down_consistency or stairway_up_down_up)"',
    "uv run alembic upgrade head",
    "uv run alembic check",
    "uv run dblab deploy --prepare",
    "uv run dblab deploy --target staging --dry-run",
]
"""The checking ``run:`` lines of the CI example's sqlite job, in order."""


def ci_commands(path: Path = CI_FILE, job: str = "sqlite") -> list[str]:
    """The ``run:`` lines of one job of the workflow file, in order."""
    import yaml

    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        step["run"].strip()
        for step in workflow["jobs"][job]["steps"]
        if "run" in step
    ]


def local_argv(command: str) -> list[str]:
    """``uv run X ...`` as this interpreter runs it (``python -m X ...``)."""
    import shlex
    import sys

    words = shlex.split(command)
    if words[:2] != ["uv", "run"]:
        raise ValueError(f"not a `uv run` command: {command}")
    return [sys.executable, "-m", *words[2:]]


_BATCH = 'with op.batch_alter_table("users") as batch_op:\n        '
REVISIONS: dict[str, tuple[str, str, str, str, str, str]] = {
    # key: (revision, down, slug, message, upgrade, downgrade)
    "INDEX": (
        "9a1e0c3d5b01",
        HEAD,
        "index_users_name",
        "index users.name for the search by name",
        'op.create_index("ix_users_name", "users", ["name"])',
        'op.drop_index("ix_users_name", table_name="users")',
    ),
    "INDEX_SAFE": (
        "9a1e0c3d5b01",
        HEAD,
        "index_users_name",
        "index users.name for the search by name, without blocking writes",
        "# CONCURRENTLY cannot run inside a transaction: commit first\n"
        "    with op.get_context().autocommit_block():\n"
        "        op.create_index(\n"
        '            "ix_users_name",\n'
        '            "users",\n'
        '            ["name"],\n'
        "            postgresql_concurrently=True,\n"
        "        )",
        "with op.get_context().autocommit_block():\n"
        "        op.drop_index(\n"
        '            "ix_users_name",\n'
        '            table_name="users",\n'
        "            postgresql_concurrently=True,\n"
        "        )",
    ),
    "UNIQUE": (
        "9a1e0c3d5b02",
        "9a1e0c3d5b01",
        "unique_users_name",
        "make users.name unique",
        _BATCH + 'batch_op.create_unique_constraint("uq_users_name", '
        '["name"])',
        _BATCH + 'batch_op.drop_constraint("uq_users_name", type_="unique")',
    ),
    "DROP_INDEX": (
        "9a1e0c3d5b03",
        "9a1e0c3d5b01",
        "drop_unused_index",
        "drop ix_users_name (looks unused)",
        'op.drop_index("ix_users_name", table_name="users")',
        'op.create_index("ix_users_name", "users", ["name"])',
    ),
    "FAIL_IN_PRODUCTION": (
        "9a1e0c3d5b04",
        HEAD,
        "index_then_fail_in_production",
        "index users.name; fails where the database is production",
        'op.create_index("ix_users_name", "users", ["name"])\n'
        "    live = not op.get_context().as_sql\n"
        "    name = op.get_bind().engine.url.database if live else ''\n"
        '    if "production" in (name or ""):\n'
        '        raise RuntimeError("disk full (simulated)")',
        'op.drop_index("ix_users_name", table_name="users")',
    ),
    "AGE_FOR_NAME": (
        "9a1e0c3d5b11",
        "9a1e0c3d5b01",
        "index_age_drop_name",
        "index users.age for the age filter; drop ix_users_name (unused?)",
        'op.create_index("ix_users_age", "users", ["age"])\n'
        '    op.drop_index("ix_users_name", table_name="users")',
        'op.create_index("ix_users_name", "users", ["name"])\n'
        '    op.drop_index("ix_users_age", table_name="users")',
    ),
    "NICKNAME_REQUIRED": (
        "9a1e0c3d5b31",
        "9a1e0c3d5b01",
        "require_users_nickname",
        "users.nickname, required from now on (the new app sends it)",
        _BATCH + "batch_op.add_column(\n"
        '            sa.Column("nickname", sa.String(50), nullable=False,'
        ' server_default="")\n'
        "        )\n    " + _BATCH + "batch_op.alter_column(\n"
        '            "nickname",\n'
        "            existing_type=sa.String(50),\n"
        "            existing_nullable=False,\n"
        "            server_default=None,\n"
        "        )",
        _BATCH + 'batch_op.drop_column("nickname")',
    ),
    "NICKNAME": (
        "9a1e0c3d5b05",
        HEAD,
        "add_users_nickname",
        "add users.nickname, nullable",
        'op.add_column("users", sa.Column("nickname", sa.String(50)))',
        _BATCH + 'batch_op.drop_column("nickname")',
    ),
    "DROP_AGE": (
        "9a1e0c3d5b06",
        "9a1e0c3d5b01",
        "drop_users_age",
        "drop users.age (nobody reads it)",
        _BATCH + 'batch_op.drop_column("age")',
        'op.add_column("users", sa.Column("age", sa.Integer()))',
    ),
}


def app(
    metadata: MetaData | None = None,
    checks: Mapping[str, Check] | None = None,
) -> deploy.App:
    """The example app's queries and models, for a :class:`deploy.Runbook`.

    ``metadata``: what ``alembic check`` compares with (default: the
    app's models; :func:`metadata_with_index` after INDEX); ``checks``:
    extra checks run on the rehearsal's copy and on the target.
    """
    return example_app.app(metadata, checks)


def revision_id(key: str) -> str:
    return REVISIONS[key][0]


def add_revision(where: targets.Targets, key: str, down: str | None = None):
    """Write the prepared revision ``key`` into the private versions/."""
    revision, default_down, slug, message, up, down_body = REVISIONS[key]
    text = (
        f'"""{message}\n\nRevision ID: {revision}\n"""\n\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = {revision!r}\ndown_revision = {down or default_down!r}\n"
        "branch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n    {up}\n\n\ndef downgrade():\n    {down_body}\n"
    )
    path = (
        where.migrations / "versions" / f"2024_06_01_0900-{revision}_{slug}.py"
    )
    path.write_text(text, encoding="utf-8")
    return path


def make_targets(
    server: URL | None = None,
    *,
    revisions: tuple[str, ...] = (),
    at: str = "heads",
    users: int | None = None,
    reuse: targets.Targets | None = None,
) -> targets.Targets:
    """Fresh targets with their own name and migrations copy, seeded.

    ``revisions`` are written first; the three databases are created at
    ``at``; production gets ``users`` (default 20 000, 300 under test).
    ``reuse``: empty and refill an earlier set (its databases stay, which
    saves CREATE DATABASE on a server).
    """
    if reuse is None:
        label = f"dblab_{secrets.token_hex(4)}"
        server = server or settings.database_url()
        where = targets.Targets(server=server, prefix=label)
    else:
        where = reuse
        where.close()
        for item in where.folder.iterdir():
            if item.is_dir():
                shutil.rmtree(item)
            elif item.suffix != ".sqlite":
                item.unlink()
    copy = where.folder / "migrations"
    shutil.copytree(
        settings.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    where.migrations = copy
    for key in revisions:
        add_revision(where, key)
    count = users if users is not None else settings.scaled(20_000, 300)
    targets.prepare(where, revision=at, users=count)
    return where


def metadata_with_index() -> MetaData:
    """The app's models plus ``ix_users_name`` (what INDEX adds)."""
    from app.models import NAMING_CONVENTION, Base

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    sa.Index("ix_users_name", metadata.tables["users"].c.name)
    return metadata
