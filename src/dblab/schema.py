"""Pictures and tables of a schema, and what a migration changed.

- :func:`columns` / :func:`tables`: a live database or a ``MetaData`` as
  pandas DataFrames.
- :func:`er_diagram`: a Mermaid ``erDiagram`` that JupyterLab draws.
- :func:`snapshot` and :func:`diff`: the schema at two points in time, and
  a readable list of the differences.

The kit's own tables (``dblab_*``, see :func:`dblab.servers.kit_table`)
and ``alembic_version`` are left out of pictures of a live database.
Types are shown in one portable spelling (``INTEGER``, ``VARCHAR(120)``),
so the same schema looks the same on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine, MetaData

from dblab import servers

Source = Engine | MetaData
HIDDEN = {"alembic_version"}
"""Bookkeeping, not the app's schema (as the kit's ``dblab_*`` tables)."""


class Mermaid:
    """Mermaid source that JupyterLab (4.1+) renders as a picture."""

    def __init__(self, source: str) -> None:
        self.source = source

    def _repr_mimebundle_(self, include=None, exclude=None):  # noqa: ARG002
        return {
            "text/vnd.mermaid": self.source,
            "text/markdown": f"```mermaid\n{self.source}\n```",
            "text/plain": self.source,
        }

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return self.source


def type_name(column_type: sa.types.TypeEngine) -> str:
    """A portable name: ``INTEGER``, ``VARCHAR(120)``, ``DATE`` ..."""
    if isinstance(column_type, sa.Boolean):
        return "BOOLEAN"
    if isinstance(column_type, sa.Integer):
        return (
            "BIGINT" if isinstance(column_type, sa.BigInteger) else "INTEGER"
        )
    if isinstance(column_type, sa.String):
        if column_type.length is None:
            return "TEXT"
        return f"VARCHAR({column_type.length})"
    if isinstance(column_type, sa.DateTime):
        return "DATETIME"
    if isinstance(column_type, sa.Date):
        return "DATE"
    if isinstance(column_type, sa.Float | sa.Numeric):
        return "NUMERIC"
    return str(column_type).split("(")[0].upper()


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    default: str | None
    primary_key: bool
    unique: bool
    references: str | None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    indexes: tuple[str, ...] = ()
    foreign_keys: tuple[tuple[str, str, str], ...] = ()  # name, col, target


@dataclass
class Snapshot:
    """The shape of a schema at one moment (tables, columns, keys)."""

    tables: dict[str, Table] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def _default_text(default: object) -> str | None:
    if default is None:
        return None
    text = str(getattr(default, "arg", default))
    return text.strip("'\"") if text else None


def _from_metadata(metadata: MetaData) -> Snapshot:
    snap = Snapshot()
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        uniques = {
            c.columns[0].name
            for c in table.constraints
            if isinstance(c, sa.UniqueConstraint) and len(c.columns) == 1
        }
        uniques |= {c.name for c in table.columns if c.unique}
        cols = tuple(
            Column(
                c.name,
                type_name(c.type),
                bool(c.nullable) and not c.primary_key,
                _default_text(c.server_default),
                c.primary_key,
                c.name in uniques,
                next(
                    (
                        f"{fk.column.table.name}.{fk.column.name}"
                        for fk in c.foreign_keys
                    ),
                    None,
                ),
            )
            for c in table.columns
        )
        fks = tuple(
            (
                fk.constraint.name or "",
                fk.parent.name,
                f"{fk.column.table.name}.{fk.column.name}",
            )
            for fk in table.foreign_keys
        )
        indexes = tuple(sorted(i.name or "" for i in table.indexes))
        snap.tables[table.name] = Table(table.name, cols, indexes, fks)
    return snap


def _from_engine(engine: Engine, count_rows: bool) -> Snapshot:
    inspector = sa.inspect(engine)
    snap = Snapshot()
    names = [
        n
        for n in inspector.get_table_names()
        if n not in HIDDEN and not servers.kit_table(n)
    ]
    for name in sorted(names):
        pk = set(inspector.get_pk_constraint(name)["constrained_columns"])
        fks = inspector.get_foreign_keys(name)
        refs = {
            fk["constrained_columns"][0]: (
                f"{fk['referred_table']}.{fk['referred_columns'][0]}"
            )
            for fk in fks
        }
        uniques = {
            u["column_names"][0]
            for u in inspector.get_unique_constraints(name)
            if len(u["column_names"]) == 1
        }
        indexes = inspector.get_indexes(name)
        uniques |= {
            i["column_names"][0]
            for i in indexes
            if i.get("unique") and len(i["column_names"]) == 1
        }
        cols = tuple(
            Column(
                c["name"],
                type_name(c["type"]),
                bool(c["nullable"]) and c["name"] not in pk,
                _default_text(c.get("default")),
                c["name"] in pk,
                c["name"] in uniques,
                refs.get(c["name"]),
            )
            for c in inspector.get_columns(name)
        )
        fk_names = {fk.get("name") for fk in fks}
        index_names = tuple(
            sorted(
                i["name"]
                for i in indexes
                if not i.get("unique") and i["name"] not in fk_names
            )
        )
        fk_list = tuple(
            (
                fk.get("name") or "",
                fk["constrained_columns"][0],
                f"{fk['referred_table']}.{fk['referred_columns'][0]}",
            )
            for fk in fks
        )
        snap.tables[name] = Table(name, cols, index_names, fk_list)
    if count_rows:
        with engine.connect() as connection:
            for name in snap.tables:
                table = sa.table(name)
                query = sa.select(sa.func.count()).select_from(table)
                snap.rows[name] = connection.execute(query).scalar_one()
    return snap


def snapshot(source: Source, *, count_rows: bool = True) -> Snapshot:
    """The schema of a live database (with row counts) or a MetaData."""
    if isinstance(source, MetaData):
        return _from_metadata(source)
    return _from_engine(source, count_rows)


def tables(source: Source) -> pd.DataFrame:
    """One row per table: columns, and rows when the source is a database."""
    snap = snapshot(source)
    data = [
        {
            "table": t.name,
            "columns": len(t.columns),
            **({"rows": snap.rows[t.name]} if snap.rows else {}),
        }
        for t in snap.tables.values()
    ]
    return pd.DataFrame(data)


def columns(source: Source, table: str | None = None) -> pd.DataFrame:
    """One row per column (of one ``table``, or of all)."""
    snap = snapshot(source, count_rows=False)
    rows = []
    for t in snap.tables.values():
        if table is not None and t.name != table:
            continue
        for c in t.columns:
            rows.append(
                {
                    "table": t.name,
                    "column": c.name,
                    "type": c.type,
                    "nullable": c.nullable,
                    "default": c.default or "",
                    "key": _keys(c),
                    "references": c.references or "",
                }
            )
    return pd.DataFrame(rows)


def _keys(column: Column) -> str:
    keys = []
    if column.primary_key:
        keys.append("PK")
    if column.references:
        keys.append("FK")
    if column.unique:
        keys.append("UK")
    return ",".join(keys)


def er_diagram(source: Source | Snapshot) -> Mermaid:
    """A Mermaid ``erDiagram`` of a database, a MetaData or a snapshot."""
    snap = (
        source
        if isinstance(source, Snapshot)
        else snapshot(source, count_rows=False)
    )
    lines = ["erDiagram"]
    for t in snap.tables.values():
        lines.append(f"    {t.name} {{")
        for c in t.columns:
            keys = _keys(c)
            note = ' "NULL"' if c.nullable else ""
            lines.append(
                f"        {c.type} {c.name}{' ' + keys if keys else ''}{note}"
            )
        lines.append("    }")
    for t in snap.tables.values():
        pk = {c.name for c in t.columns if c.primary_key}
        for _name, column, target in t.foreign_keys:
            parent = target.split(".")[0]
            shape = "||--o|" if column in pk else "||--o{"
            lines.append(f'    {parent} {shape} {t.name} : "{column}"')
    return Mermaid("\n".join(lines))


@dataclass
class Diff:
    """What changed between two snapshots, one line per change."""

    changes: list[str]

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __str__(self) -> str:
        if not self.changes:
            return "スキーマの変更なし (no schema change)"
        return "\n".join(self.changes)

    def __repr__(self) -> str:
        return str(self)


def diff(before: Snapshot, after: Snapshot) -> Diff:
    """Readable differences: ``+`` added, ``-`` removed, ``~`` changed."""
    changes: list[str] = []
    for name in sorted(after.tables.keys() - before.tables.keys()):
        changes.append(f"+ テーブル {name}")
    for name in sorted(before.tables.keys() - after.tables.keys()):
        changes.append(f"- テーブル {name}")
    for name in sorted(before.tables.keys() & after.tables.keys()):
        old = {c.name: c for c in before.tables[name].columns}
        new = {c.name: c for c in after.tables[name].columns}
        for col in new.keys() - old.keys():
            c = new[col]
            null = "NULL" if c.nullable else "NOT NULL"
            changes.append(f"+ 列 {name}.{col} {c.type} {null}")
        for col in old.keys() - new.keys():
            changes.append(f"- 列 {name}.{col}")
        for col in sorted(old.keys() & new.keys()):
            a, b = old[col], new[col]
            if a.type != b.type:
                changes.append(f"~ 列 {name}.{col}: {a.type} → {b.type}")
            if a.nullable != b.nullable:
                states = ("NULL 可", "NOT NULL")
                changes.append(
                    f"~ 列 {name}.{col}: {states[not a.nullable]} → "
                    f"{states[not b.nullable]}"
                )
            if a.unique != b.unique:
                now = "なし → あり" if b.unique else "あり → なし"
                changes.append(f"~ 列 {name}.{col}: UNIQUE {now}")
        old_ix = set(before.tables[name].indexes)
        new_ix = set(after.tables[name].indexes)
        changes += [f"+ インデックス {name}.{i}" for i in new_ix - old_ix]
        changes += [f"- インデックス {name}.{i}" for i in old_ix - new_ix]
        if before.rows and after.rows:
            was, now = before.rows.get(name), after.rows.get(name)
            if was is not None and now is not None and was != now:
                changes.append(f"~ 行数 {name}: {was} → {now}")
    return Diff(sorted(changes, key=_order))


def _order(line: str) -> tuple[int, str]:
    return ("+-~".index(line[0]), line)
