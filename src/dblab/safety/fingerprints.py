"""Fingerprints: per table, the row count and an order-independent checksum.

Two databases with the same data have the same fingerprint, whatever the
backend, driver or row order; a backup's manifest records one, and a
restore is proven by comparing them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Mapping
from typing import NamedTuple

import sqlalchemy as sa

from dblab import servers
from dblab.safety.databases import Database, engine_of


class TableFingerprint(NamedTuple):
    """Row count and order-independent checksum of one table."""

    rows: int
    checksum: str


class Fingerprint(dict[str, TableFingerprint]):
    """``{table: TableFingerprint}``; equal data gives equal fingerprints."""

    def differences(self, other: Mapping[str, TableFingerprint]) -> list[str]:
        """What differs from ``other``, one short line per table."""
        lines = []
        for name in sorted(set(self) | set(other)):
            mine, theirs = self.get(name), other.get(name)
            if mine is None:
                lines.append(f"{name}: 表が増えた (table added)")
            elif theirs is None:
                lines.append(f"{name}: 表がない (table missing)")
            elif mine.rows != theirs.rows:
                lines.append(f"{name}: 行数 {mine.rows} → {theirs.rows}")
            elif mine.checksum != theirs.checksum:
                lines.append(f"{name}: 内容が違う (checksum differs)")
        return lines

    def frame(self):
        """The fingerprint as a pandas DataFrame (one row per table)."""
        import pandas as pd

        frame = pd.DataFrame(
            [(name, *value) for name, value in sorted(self.items())],
            columns=["table", "rows", "checksum"],
        )
        return frame.set_index("table")

    def to_json(self) -> dict[str, list]:
        return {name: list(value) for name, value in sorted(self.items())}

    @classmethod
    def from_json(cls, data: Mapping[str, list]) -> Fingerprint:
        return cls(
            {k: TableFingerprint(int(v[0]), v[1]) for k, v in data.items()}
        )


def fingerprint(db: Database) -> Fingerprint:
    """Row count and checksum of every table, in one consistent read.

    Each row's values are normalized (numbers by value, times in UTC,
    bytes as hex) and hashed in Python with the column names sorted; the
    row hashes are summed, so row order does not matter and a duplicated
    row does. Views are not tables and are not included, nor are the
    kit's own tables (``dblab_*``: a target's identity row, batch
    progress), which are not the app's data.
    """
    engine = engine_of(db)
    options = {}
    if engine.dialect.name != "sqlite":
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as connection:
        result = fingerprint_on(connection)
        connection.rollback()
    return result


def fingerprint_on(connection: sa.Connection) -> Fingerprint:
    """The fingerprint as ``connection``'s transaction sees the data."""
    result = Fingerprint()
    for name in sorted(sa.inspect(connection).get_table_names()):
        if servers.kit_table(name):
            continue  # the kit's bookkeeping (identity row, progress)
        result[name] = _table_fingerprint(connection, name)
    return result


def _table_fingerprint(
    connection: sa.Connection, name: str
) -> TableFingerprint:
    columns = sorted(
        sa.inspect(connection).get_columns(name), key=lambda c: c["name"]
    )
    raw = (sa.Numeric, sa.Float)  # the driver's own numbers, no warnings
    select = sa.select(
        *(
            sa.column(
                c["name"],
                sa.NullType() if isinstance(c["type"], raw) else c["type"],
            )
            for c in columns
        )
    ).select_from(sa.table(name))
    total = rows = 0
    stream = connection.execute(select, execution_options={"yield_per": 5000})
    for partition in stream.partitions():
        for row in partition:
            parts = [canonical(value) for value in row]
            encoded = "".join(f"{len(p)}:{p}" for p in parts).encode()
            digest = hashlib.blake2b(encoded, digest_size=16).digest()
            total += int.from_bytes(digest, "big")
            rows += 1
    header = ",".join(c["name"] for c in columns)
    summary = f"{header}|{total % 2**128:032x}".encode()
    return TableFingerprint(
        rows, hashlib.blake2b(summary, digest_size=16).hexdigest()
    )


def canonical(value: object) -> str:
    """One value as text that does not depend on the backend or driver."""
    if value is None:
        return "n"
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return f"#{value}"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return f"#{value!r}"
        value = decimal.Decimal(repr(value))
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return f"#{value}"
        if value == value.to_integral_value():
            return f"#{int(value)}"
        return f"#{value.normalize():f}"
    if isinstance(value, str):
        return "s" + value
    if isinstance(value, bytes | bytearray | memoryview):
        return "b" + bytes(value).hex()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return "t" + value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return "t" + value.isoformat()
    if isinstance(value, dt.timedelta):
        return f"i{value.total_seconds()!r}"
    if isinstance(value, dict | list):
        return "j" + json.dumps(
            value, sort_keys=True, default=str, ensure_ascii=False
        )
    return "s" + str(value)
