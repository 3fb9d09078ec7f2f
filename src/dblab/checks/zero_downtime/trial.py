"""The capstone's trial database: the learner's revisions on fresh rows.

:func:`make_trial` copies the learner's revision files into a new
sandbox on the same server, upgrades it to the kit's head and seeds
``users`` with names of every shape the split rule must handle
(:data:`dblab.traffic.versions.SHAPES`). :func:`probe_downgrades`
applies the learner's revisions one by one on a small sample and
downgrades each again, to see which one is the contract (``name`` is
gone after it) and whether the ones before it come back without loss.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import Engine

from dblab import migrate, revisions, sandbox, seed, settings
from dblab.errors import MigrationError
from dblab.sandbox import Sandbox
from dblab.traffic.versions import HALF, SHAPES

_users = sa.table("users", sa.column("id"), sa.column("name"))


def seed_users(engine: Engine, count: int) -> int:
    """Insert ``count`` users, their names in every shape; return count.

    :func:`dblab.seed.users` writes 「佐藤 蓮」 with one half-width space;
    here the rows whose ``id % 10`` is a key of ``SHAPES`` get that shape
    instead (about 40 % of the rows), so the seed's own output is
    unchanged for every other notebook.
    """
    with engine.connect() as connection:
        first = connection.execute(
            sa.select(sa.func.coalesce(sa.func.max(_users.c.id), 0))
        ).scalar_one()
    seed.users(engine, count)
    with engine.begin() as connection:
        for remainder, space in SHAPES.items():
            connection.execute(
                _users.update()
                .where(_users.c.id > first, _users.c.id % 10 == remainder)
                .values(name=sa.func.replace(_users.c.name, HALF, space))
            )
    return count


def learner_files(box: Sandbox) -> list:
    """The revision files in ``box`` that the kit's chain does not have."""
    kit = {p.name for p in (settings.MIGRATIONS / "versions").glob("*.py")}
    return sorted(
        p
        for p in (box.migrations / "versions").glob("*.py")
        if p.name not in kit
    )


def learner_chain(box: Sandbox) -> list[str]:
    """The revision ids after the kit's head, oldest first."""
    kit = set(revisions.CHAIN)
    return [
        script.revision
        for script in migrate.revisions(box)
        if script.revision not in kit
    ]


def make_trial(box: Sandbox) -> Sandbox:
    """A fresh sandbox beside ``box`` with its revisions, at the kit's head.

    Its engine, which runs the learner's revisions, keeps no statement
    cache. In production the migration and the app are two processes;
    here they share one, and a backfill that builds a new statement per
    batch (``CASE id WHEN ...``, ``VALUES ...``: a cache entry each)
    filled SQLAlchemy's cache with millions of objects, whose garbage
    collection then paused the app's threads for up to 1.7 s (measured
    at 1,000,000 rows on MariaDB): a stall of the grader's making.
    """
    server = box.server
    trial = sandbox.create(
        "capstone", server=server, migrations=True, cache_statements=False
    )
    try:
        for path in learner_files(box):
            shutil.copy2(path, trial.migrations / "versions" / path.name)
        migrate.upgrade(trial, to=revisions.HEAD)
    except BaseException:
        trial.close()
        raise
    return trial


def columns(engine: Engine) -> dict[str, bool]:
    """``users``' columns and whether each is nullable."""
    return {
        c["name"]: bool(c["nullable"])
        for c in sa.inspect(engine).get_columns("users")
    }


def digest(engine: Engine) -> tuple[int, str]:
    """Row count and a digest of ``(id, name)``: what must not be lost."""
    hashed = hashlib.sha256()
    count = 0
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(_users.c.id, _users.c.name).order_by(_users.c.id)
        )
        for key, name in rows:
            hashed.update(f"{key}\x1f{name}\x1e".encode())
            count += 1
    return count, hashed.hexdigest()


@dataclass
class Probe:
    """What the downgrade probe found."""

    contract: str | None = None
    lossy: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def probe_downgrades(trial: Sandbox, chain: list[str], rows: int) -> Probe:
    """Upgrade, downgrade and re-upgrade each revision before contract.

    Runs on ``rows`` sample users, which are deleted afterwards; the
    trial ends at the kit's head (or the probe says why it could not).
    """
    found = Probe()
    seed_users(trial.engine, rows)
    previous = revisions.HEAD
    for revision in chain:
        before = digest(trial.engine)
        try:
            migrate.upgrade(trial, to=revision)
        except MigrationError as error:
            found.failures[revision] = str(error)
            break
        if "name" not in columns(trial.engine):
            found.contract = revision
            break
        try:
            migrate.downgrade(trial, to=previous)
            after = digest(trial.engine)
            migrate.upgrade(trial, to=revision)
        except MigrationError as error:
            found.failures[revision] = str(error)
            break
        if after != before:
            found.lossy[revision] = (
                f"{before[0]} 行 → {after[0]} 行"
                if after[0] != before[0]
                else "name の値が変わりました"
            )
        previous = revision
    try:
        migrate.downgrade(trial, to=revisions.HEAD)
        with trial.engine.begin() as connection:
            connection.execute(sa.delete(_users))
    except MigrationError as error:
        found.failures.setdefault("reset", str(error))
    return found
