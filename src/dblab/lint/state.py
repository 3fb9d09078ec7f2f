"""What the chain below a revision has done: columns added, filled, typed.

A backfill credits only the column it fills, and only after that column
exists: an UPDATE naming ``email`` fills ``users.email``; an UPDATE whose
columns cannot be told fills the columns ``users`` had at that moment, not
one added later. The walk of the chain carries one state along each
branch (copied only where the chain forks), so it stays linear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dblab.lint.ops import Op
from dblab.lint.types import TypeInfo

Key = tuple[str, str]


def key(table: str | None, column: str | None) -> Key:
    return ((table or "").lower(), (column or "").lower())


@dataclass
class ChainState:
    tick: int = 0
    filled: dict[Key, int] = field(default_factory=dict)
    star: dict[str, int] = field(default_factory=dict)
    added: dict[Key, int] = field(default_factory=dict)
    types: dict[Key, TypeInfo | None] = field(default_factory=dict)
    proven: set[Key] = field(default_factory=set)  # CHECK (c IS NOT NULL)
    not_null: set[Key] = field(default_factory=set)

    def copy(self) -> ChainState:
        return ChainState(
            self.tick,
            dict(self.filled),
            dict(self.star),
            dict(self.added),
            dict(self.types),
            set(self.proven),
            set(self.not_null),
        )

    @classmethod
    def merged(cls, states: list[ChainState]) -> ChainState:
        """The state after a merge revision's parents."""
        if not states:
            return cls()
        result = states[0].copy()
        for other in states[1:]:
            result.tick = max(result.tick, other.tick)
            for mine, theirs in (
                (result.filled, other.filled),
                (result.star, other.star),
                (result.added, other.added),
            ):
                for name, tick in theirs.items():
                    mine[name] = max(mine.get(name, -1), tick)
            result.types.update(other.types)
            result.proven |= other.proven
            result.not_null &= other.not_null
        return result

    def credited(self, table: str | None, column: str | None) -> bool:
        name = key(table, column)
        if name in self.filled:
            return True
        star = self.star.get(name[0])
        return star is not None and star > self.added.get(name, -1)

    def is_not_null(self, table: str | None, column: str | None) -> bool:
        return key(table, column) in self.not_null

    def _nullable(self, name: Key, nullable: bool) -> None:
        if nullable:
            self.not_null.discard(name)
        else:
            self.not_null.add(name)

    def column_type(self, table: str | None, column: str | None):
        return self.types.get(key(table, column))

    def apply(self, ops: list[Op]) -> None:
        """Record what one revision's ``upgrade()`` did."""
        for op in ops:
            self.tick += 1
            self._apply(op)

    def _apply(self, op: Op) -> None:
        name = key(op.table, op.column)
        if op.kind == "create_table":
            for column, kind, nullable in op.columns:
                self.types[(name[0], column)] = kind
                self.added[(name[0], column)] = self.tick
                if not nullable:
                    self.not_null.add((name[0], column))
        elif op.kind == "add_column" and op.column:
            self.filled.pop(name, None)
            self.added[name] = self.tick
            self.types[name] = op.new_type
            if op.server_default or op.nullable is False:
                self.filled[name] = self.tick
            self._nullable(name, op.nullable is not False)
        elif op.kind == "alter_column" and op.column:
            if op.new_type is not None:
                self.types[name] = op.new_type
            if op.nullable is not None:
                self._nullable(name, op.nullable)
            if op.new_name:
                new = key(op.table, op.new_name)
                for store in (self.filled, self.added, self.types):
                    if name in store:
                        store[new] = store.pop(name)
        elif op.kind == "write" and op.statement == "update" and op.table:
            if op.filled is None:
                self.star[name[0]] = self.tick
            else:
                for column in op.filled:
                    self.filled[(name[0], column)] = self.tick
        elif op.not_null_check and op.table:
            self.proven.add(key(op.table, op.not_null_check))
