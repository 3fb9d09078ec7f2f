"""What a restore would discard: the writes since a backup, per table.

A restore from a dump takes a live database back to the moment of the
dump: every row added, changed or removed since is lost. Before anyone
restores over a database in use, :func:`since_backup` counts them by
primary key (rows of a table without one are compared as a multiset).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from dblab.safety.backups import Backup
from dblab.safety.databases import Database, engine_of
from dblab.safety.fingerprints import canonical
from dblab.safety.restores import restore
from dblab.safety.tools import Tools


@dataclass(frozen=True)
class TableChanges:
    """Rows of one table added, changed and removed since the backup."""

    added: int = 0
    changed: int = 0
    removed: int = 0

    @property
    def total(self) -> int:
        return self.added + self.changed + self.removed

    def __str__(self) -> str:
        return f"+{self.added} ~{self.changed} -{self.removed}"


class Discards(dict[str, TableChanges]):
    """``{table: TableChanges}`` for the tables that changed."""

    @property
    def rows(self) -> int:
        return sum(change.total for change in self.values())

    def __str__(self) -> str:
        if not self:
            return "なし (nothing written since the backup)"
        return ", ".join(
            f"{name} {change}" for name, change in sorted(self.items())
        )


def since_backup(
    item: str | Backup,
    db: Database,
    server: URL | Database | None = None,
    *,
    tools: Tools = None,
) -> Discards:
    """Rows a restore of ``item`` over ``db`` would discard, per table.

    The backup is restored into a scratch database beside ``server``
    (default: ``db``'s server) and compared row by row with ``db``.
    """
    engine = engine_of(db)
    scratch = restore(item, server if server is not None else db, tools=tools)
    try:
        return compare(scratch.engine, engine)
    finally:
        scratch.close()


def compare(old: Engine, new: Engine) -> Discards:
    """Rows of ``new`` added, changed or removed relative to ``old``."""
    found = Discards()
    old_names = set(sa.inspect(old).get_table_names())
    new_names = set(sa.inspect(new).get_table_names())
    for name in sorted(old_names | new_names):
        before = _rows(old, name) if name in old_names else {}
        after = _rows(new, name) if name in new_names else {}
        change = _changes(before, after)
        if change.total:
            found[name] = change
    return found


def _changes(before: dict, after: dict) -> TableChanges:
    if isinstance(before, Counter) or isinstance(after, Counter):
        old, new = Counter(before), Counter(after)
        return TableChanges(
            sum((new - old).values()), 0, sum((old - new).values())
        )
    both = after.keys() & before.keys()
    return TableChanges(
        added=len(after.keys() - before.keys()),
        changed=sum(1 for key in both if after[key] != before[key]),
        removed=len(before.keys() - after.keys()),
    )


def _rows(engine: Engine, name: str) -> dict:
    """``{primary key: row hash}``, or a Counter of row hashes."""
    inspector = sa.inspect(engine)
    columns = sorted(c["name"] for c in inspector.get_columns(name))
    keys = inspector.get_pk_constraint(name).get("constrained_columns") or []
    table = sa.table(name, *(sa.column(c) for c in columns))
    rows: dict | Counter = {} if keys else Counter()
    with engine.connect() as connection:
        result = connection.execute(sa.select(*table.c))
        for row in result.mappings():
            text = "|".join(canonical(row[c]) for c in columns)
            digest = hashlib.blake2b(text.encode(), digest_size=12).digest()
            if keys:
                rows[tuple(canonical(row[k]) for k in keys)] = digest
            else:
                rows[digest] += 1
    return rows
