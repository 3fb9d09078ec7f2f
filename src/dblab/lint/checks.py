"""The rules applied to one revision's ops, given the chain below it.

"Existing" means a table the revision did not create itself: a table
created earlier in the same ``upgrade()`` is empty, so locks and rewrites
on it cost nothing, a scratch column added and dropped in the same
``upgrade()`` loses no data, and a table dropped to be replaced by a
renamed copy is a rebuild, not a loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dblab.lint.finding import Finding
from dblab.lint.ops import Op
from dblab.lint.rules import RESERVED, RULES, SUPPORTED, dialects_of
from dblab.lint.source import Revision, is_empty
from dblab.lint.state import ChainState, key
from dblab.lint.types import rewrites

NEW_TABLE_OK = {"create_table", "create_index", "drop_index"}


@dataclass(frozen=True)
class Settings:
    """How a project is linted (``[tool.dblab.lint]`` and the command)."""

    dialects: frozenset[str] = frozenset(SUPPORTED)
    disabled: frozenset[str] = frozenset()
    timeouts: frozenset[str] = frozenset()  # dialects env.py sets one for
    downgrades: bool = True  # the project's template writes downgrade()


@dataclass
class RevisionCheck:
    revision: Revision
    state: ChainState
    settings: Settings
    found: list[Finding] = field(default_factory=list)
    created: set[str] = field(default_factory=set)
    added: set[tuple[str, str]] = field(default_factory=set)
    writes: list[Op] = field(default_factory=list)
    dropped_tables: set[str] = field(default_factory=set)

    def emit(
        self,
        code: str,
        line: int,
        detail: str | None = "",
        where: frozenset[str] | None = None,
    ) -> None:
        if code in self.settings.disabled:
            return
        dialects = dialects_of(code) & self.settings.dialects
        if where is not None:
            dialects &= where
        if not dialects:
            return
        shown = ()
        if RULES[code].dialects or where is not None:
            shown = tuple(d for d in SUPPORTED if d in dialects)
        self.found.append(
            Finding(code, self.revision.path, line, detail or "", shown)
        )

    def existing(self, table: str | None) -> bool:
        return (table or "").lower() not in self.created

    def run(self) -> list[Finding]:
        self.structure()
        ops = self.revision.ops
        replaced = {
            (op.new_name or "").lower()
            for op in ops
            if op.kind == "rename_table"
        }
        for op in ops:
            self.op(op, replaced)
        self.mixed_and_renamed(ops)
        self.lock_timeout(ops)
        return self.found

    def structure(self) -> None:
        revision = self.revision
        upgrade, downgrade = revision.upgrade, revision.downgrade
        if downgrade is None:
            if self.settings.downgrades:
                self.emit("MG101", 1)
        elif (
            is_empty(downgrade)
            and not is_empty(upgrade)
            and not revision.downgrade_explained
        ):
            self.emit("MG102", downgrade.lineno)

    def op(self, op: Op, replaced: set[str]) -> None:
        table = (op.table or "").lower()
        where = op.dialects
        if op.kind == "write":
            self.write(op)
        elif op.kind == "create_table":
            self.created.add(table)
            if table in RESERVED:
                self.emit("NM101", op.line, op.table, where)
        elif op.kind == "rename_table":
            self.rename_table(op)
        elif op.kind == "drop_table":
            self.dropped_tables.add(table)
            if table not in self.created and table not in replaced:
                self.emit("DS102", op.line, op.table, where)
        elif op.kind == "drop_column":
            if (
                self.existing(table)
                and key(table, op.column) not in self.added
            ):
                self.emit("DS103", op.line, op.column, where)
        elif op.kind == "add_column":
            self.add_column(op)
        elif op.kind == "alter_column" and self.existing(table):
            self.alter_column(op)
        elif self.existing(table):
            self.constraint(op)

    def write(self, op: Op) -> None:
        if not self.existing(op.table) and op.table:
            return  # rows for a table this revision created
        self.writes.append(op)
        if op.statement in {"update", "delete"} and not op.bounded:
            self.emit("MF201", op.line, op.table, op.dialects)

    def rename_table(self, op: Op) -> None:
        old = (op.table or "").lower()
        swapped = (op.new_name or "").lower() in self.dropped_tables
        if old not in self.created and not swapped:
            self.emit("BC101", op.line, op.table, op.dialects)
        if (op.new_name or "").lower() in RESERVED:
            self.emit("NM101", op.line, op.new_name, op.dialects)

    def add_column(self, op: Op) -> None:
        name = key(op.table, op.column)
        self.added.add(name)
        if not self.existing(op.table):
            return
        if op.identity:
            self.emit("RW102", op.line, op.column, op.dialects)
        elif op.nullable is False and not op.server_default:
            self.emit("MF103", op.line, op.column, op.dialects)

    def alter_column(self, op: Op) -> None:
        where = op.dialects
        if op.new_name and op.new_name.lower() != (op.column or "").lower():
            self.emit("BC102", op.line, op.column, where)
        already = op.existing_nullable is False or (
            op.existing_nullable is None
            and self.state.is_not_null(op.table, op.column)
        )
        if op.nullable is False and not already:
            if not self.backfilled(op.table, op.column):
                self.emit("MF104", op.line, op.column, where)
            scans = where
            if key(op.table, op.column) in self.state.proven:
                scans = frozenset(dialects_of("LK104") - {"postgresql"})
                scans = scans if where is None else scans & where
            self.emit("LK104", op.line, op.column, scans)
        if op.new_type is not None:
            old = op.old_type or self.state.column_type(op.table, op.column)
            if key(op.table, op.column) in self.added and old is None:
                return
            utc = any(o.kind == "utc" for o in self.revision.ops)
            rewriting = frozenset(
                d
                for d in dialects_of("RW101")
                if rewrites(d, old, op.new_type, utc)
            )
            if rewriting:
                scope = rewriting if where is None else rewriting & where
                self.emit("RW101", op.line, op.column, scope)

    def backfilled(self, table: str | None, column: str | None) -> bool:
        name = key(table, column)
        for write in self.writes:
            if write.statement != "update":
                continue
            same_table = write.table is None or write.table.lower() == name[0]
            if same_table and (
                write.filled is None or name[1] in write.filled
            ):
                return True
        if name in self.added:
            return False  # added in this upgrade: earlier fills are void
        return self.state.credited(table, column)

    def constraint(self, op: Op) -> None:
        where = op.dialects
        if op.kind == "create_index" and not op.concurrently:
            self.emit("LK101", op.line, op.table, where)
        elif op.kind == "create_index" and not op.autocommit:
            self.emit("MF105", op.line, op.table, where)
        elif op.kind == "create_unique_constraint":
            self.emit("LK101", op.line, f"UNIQUE on {op.table}", where)
        elif op.kind == "create_foreign_key":
            scope = dialects_of("LK102")
            if op.not_valid:
                scope = scope - {"postgresql"}
            self.emit("LK102", op.line, op.table, _meet(scope, where))
        elif op.kind == "create_check_constraint" and not op.not_valid:
            self.emit("LK103", op.line, op.table, where)

    def mixed_and_renamed(self, ops: list[Op]) -> None:
        """MG201 (schema and data in one revision) and BC103."""
        schema = [op for op in ops if op.is_schema]
        if schema and self.writes and self.revision.upgrade is not None:
            self.emit("MG201", self.revision.upgrade.lineno)
        self.drop_and_add(ops)

    def drop_and_add(self, ops: list[Op]) -> None:
        """BC103: autogenerate's reading of a rename (drop one column, add
        one of the same type, move no data)."""
        if any(w.table is None for w in self.writes):
            return
        written = {(w.table or "").lower() for w in self.writes}
        added = {key(o.table, o.column) for o in ops if o.kind == "add_column"}
        tables: dict[str, tuple[list[Op], list[Op]]] = {}
        for op in ops:
            table = (op.table or "").lower()
            if not self.existing(table) or table in written:
                continue
            if op.kind == "drop_column" and key(table, op.column) not in added:
                tables.setdefault(table, ([], []))[0].append(op)
            elif op.kind == "add_column":
                tables.setdefault(table, ([], []))[1].append(op)
        for drops, adds in tables.values():
            same = [self._same_type(d, a) for d in drops for a in adds]
            paired = drops and len(drops) == len(adds)
            if paired and (True in same or set(same) == {None}):
                op = drops[0]
                self.emit("BC103", op.line, op.table, op.dialects)

    def _same_type(self, dropped: Op, added: Op) -> bool | None:
        old = self.state.column_type(dropped.table, dropped.column)
        if old is None or added.new_type is None:
            return None
        return old.stored("postgresql") == added.new_type.stored("postgresql")

    def lock_timeout(self, ops: list[Op]) -> None:
        """LK301: once per revision and database, at its first lock on a
        live table."""
        credited = set(self.settings.timeouts)
        for op in ops:
            if op.kind == "timeout":
                credited |= op.dialects or set()
        scope = dialects_of("LK301") - credited
        created: set[str] = set()
        for op in ops:
            table = (op.table or "").lower()
            if op.kind == "create_table":
                created.add(table)
            locks = op.is_schema and table not in created
            if op.kind == "create_index" and op.concurrently:
                locks = False
            where = _meet(scope, op.dialects) & self.settings.dialects
            if locks and where:
                self.emit("LK301", op.line, op.table, where)
                scope = scope - where  # once per database
                if not scope:
                    return


def _meet(a: frozenset[str], b: frozenset[str] | None) -> frozenset[str]:
    return a if b is None else a & b


def check(
    revision: Revision, state: ChainState, settings: Settings
) -> list[Finding]:
    """The findings of one revision, waivers applied."""
    found = RevisionCheck(revision, state, settings).run()
    return apply_waivers(revision, found)


def apply_waivers(revision: Revision, found: list[Finding]) -> list[Finding]:
    kept = []
    for finding in found:
        if finding.code in revision.waivers:
            if not revision.waivers[finding.code]:
                kept.append(
                    Finding(
                        "LW001",
                        revision.path,
                        revision.waiver_lines[finding.code],
                        finding.code,
                    )
                )
            continue
        kept.append(finding)
    return kept
