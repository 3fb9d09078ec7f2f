"""Checkers and scenarios of notebook 09 (deploying to production).

Scenarios: :func:`make_targets` builds dev / staging / production with a
private ``migrations/`` copy under the targets' folder, production seeded;
:func:`add_revision` writes one of the prepared revisions into it:

- ``INDEX``: an index on ``users.name`` (the good change);
- ``UNIQUE``: UNIQUE on ``users.name`` -- passes on an empty dev database,
  fails on a copy of production (seeded names repeat);
- ``DROP_INDEX``: "cleanup" of that index -- a query becomes a full scan;
- ``FAIL_IN_PRODUCTION``: the index, then an error only where the
  database is named production (a failure the rehearsal cannot see);
- ``NICKNAME`` / ``DROP_AGE``: the plan of exercise 1 (with ``INDEX``).

Exercises: :func:`risky_step` (which pending revision is risky),
:func:`rollback_plan` (undo ``DROP_AGE`` without losing data) and
:func:`caught_slow_query` (a rehearsal that stops ``DROP_INDEX``).
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.engine import URL

from dblab import deploy, migrate, revisions, safety, settings, targets
from dblab.checks import Result, checker, failed, passed
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
    " -k up_down_consistency",
    "uv run dblab deploy --prepare",
    "uv run dblab deploy --target staging --dry-run",
]
"""The checking ``run:`` lines of the CI example, in order."""


def ci_commands(path: Path = CI_FILE) -> list[str]:
    """The ``run:`` lines of the workflow file, in order."""
    import yaml

    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        step["run"].strip()
        for job in workflow["jobs"].values()
        for step in job["steps"]
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


# --- scenarios of the exercises ---------------------------------------


def prepare_plan(
    server: URL | None = None, *, reuse: targets.Targets | None = None
) -> targets.Targets:
    """Production at HEAD; NICKNAME, INDEX and DROP_AGE pending."""
    where = make_targets(
        server, at=HEAD, users=settings.scaled(300, 60), reuse=reuse
    )
    add_revision(where, "NICKNAME")
    add_revision(where, "INDEX", down=revision_id("NICKNAME"))
    add_revision(where, "DROP_AGE")
    return where


def prepare_rollback(
    server: URL | None = None, *, reuse: targets.Targets | None = None
) -> targets.Targets:
    """Production at INDEX, seeded; DROP_AGE pending."""
    where = make_targets(
        server,
        revisions=("INDEX",),
        users=settings.scaled(300, 60),
        reuse=reuse,
    )
    add_revision(where, "DROP_AGE")
    return where


def prepare_slow_query(
    server: URL | None = None, *, reuse: targets.Targets | None = None
) -> targets.Targets:
    """Production at INDEX, seeded; DROP_INDEX pending."""
    where = make_targets(server, revisions=("INDEX",), reuse=reuse)
    add_revision(where, "DROP_INDEX")
    return where


# --- checkers ------------------------------------------------------------


@checker(SECTION_PLAN)
def risky_step(answer: str, where: targets.Targets) -> Result:
    """``answer``: the id of the pending revision that loses data."""
    book = deploy.Runbook(where, "production")
    plan = book.plan()
    if str(answer) not in plan.pending:
        return failed(
            f"{answer!r} は適用待ちの revision ではありません (not pending)。"
            f"計画に出ているのは {', '.join(plan.pending)} です。",
            SECTION_PLAN,
        )
    codes = {f.code for f in plan.findings_of(str(answer))}
    if not any(code.startswith("DS") for code in codes):
        return failed(
            f"{answer} はデータを消しません (no destructive change)。計画の"
            "⚠ とオフライン SQL の DROP を探してください。",
            SECTION_PLAN,
        )
    return passed(
        f"{answer} は列を削除します ({', '.join(sorted(codes))})。適用前に"
        "バックアップと、データを戻す手順が必要です。"
    )


@checker(SECTION_ROLLBACK)
def rollback_plan(
    plan: Callable[[targets.Target, safety.Backup], object],
    where: targets.Targets,
) -> Result:
    """Apply DROP_AGE to production, run ``plan``, expect the old data."""
    production = where["production"]
    if migrate.current(production) != (revision_id("INDEX"),):
        return failed(
            "production が演習の出発点 (revision "
            f"{revision_id('INDEX')}) にありません。前の解答で変わった"
            "ので、prepare_rollback() で作り直してください (reset)。",
            SECTION_ROLLBACK,
        )
    before = safety.fingerprint(production)
    item = safety.backup(production, where.folder / "backups")
    migrate.upgrade(production, revision_id("DROP_AGE"), **where.options())
    try:
        plan(production, item)
    finally:
        production.engine.dispose()
    now = migrate.current(production)
    expected = (revision_id("INDEX"),)
    after = safety.fingerprint(production)
    lost = before.differences(after)
    if now != expected:
        return failed(
            f"revision が {', '.join(now) or 'base'} です。DROP_AGE の前の "
            f"{expected[0]} に戻してください (wrong revision)。",
            SECTION_ROLLBACK,
        )
    if lost:
        return failed(
            "revision は戻りましたが、データが戻っていません (data lost): "
            f"{'; '.join(lost)}。downgrade は列を作り直すだけで、中身は"
            "バックアップにしかありません。",
            SECTION_ROLLBACK,
        )
    return passed(
        "適用前の revision と、適用前と同じ指紋 (age の値も) に戻りました。"
    )


@checker(SECTION_REHEARSAL)
def caught_slow_query(
    rehearsal: deploy.Rehearsal, where: targets.Targets
) -> Result:
    """The learner's rehearsal failed because a query lost its index."""
    if not isinstance(rehearsal, deploy.Rehearsal):
        return failed(
            "Runbook の rehearse() が返したものを渡してください "
            f"(got {type(rehearsal).__name__})",
            SECTION_REHEARSAL,
        )
    production = where["production"]
    if migrate.current(production) != (revision_id("INDEX"),):
        return failed(
            "production の revision が変わっています。リハーサルは staging "
            "で行い、本番には触れないでください (production touched)。",
            SECTION_REHEARSAL,
        )
    regressed = [p for p in rehearsal.plans if p.regressed]
    if not rehearsal.plans:
        return failed(
            "比べたクエリがありません (no queries)。queries= に名前と"
            "クエリを渡してください。",
            SECTION_REHEARSAL,
        )
    if not regressed:
        names = ", ".join(p.query for p in rehearsal.plans)
        return failed(
            f"リハーサルは遅くなるクエリを見逃しました (slow query missed): "
            f"比べたのは {names}。DROP_INDEX が消すインデックスを使う"
            "クエリ (users を name で探す) を加えてください。",
            SECTION_REHEARSAL,
        )
    if rehearsal.ok:
        return failed(
            "全件走査になったのにリハーサルが成功扱いです (not stopped)。",
            SECTION_REHEARSAL,
        )
    return passed(
        f"{regressed[0].query} が全件走査になることをリハーサルで見つけ、"
        "本番には流しませんでした。",
        f"before: {regressed[0].before}",
        f"after:  {regressed[0].after}",
    )
