"""SQL text in ``op.execute`` / ``conn.execute``, read into the same ops.

Not a SQL parser: enough of UPDATE / DELETE / INSERT, CREATE INDEX,
ALTER TABLE and SET to see what the linter's rules ask about. A WHERE
counts only at the top level of the statement (not inside a subquery),
and ``WHERE 1=1`` / ``WHERE TRUE`` bound nothing.
"""

from __future__ import annotations

import re

from dblab.lint.ops import Op
from dblab.lint.rules import MYSQL, POSTGRESQL
from dblab.lint.types import TypeInfo

NAME = r"[\"`\[]?([\w.]+)[\"`\]]?"
TRIVIAL = re.compile(r"^\(*\s*(1\s*=\s*1|true|1)\s*\)*\s*$", re.I)
IDENTITY = re.compile(
    r"\b(SMALLSERIAL|BIGSERIAL|SERIAL|AUTO_INCREMENT|PRIMARY\s+KEY)\b|"
    r"GENERATED\s+\w+(\s+\w+)?\s+AS\s+IDENTITY",
    re.I,
)
TIMEOUTS = {"lock_timeout": POSTGRESQL, "lock_wait_timeout": MYSQL}
MYSQL_ONLY = re.compile(
    r"`|\bMODIFY\b|\bCHANGE\s+COLUMN\b|\bALGORITHM\s*=", re.I
)
POSTGRESQL_ONLY = re.compile(r"\bCONCURRENTLY\b|::|\bNOT\s+VALID\b", re.I)


def top_level(sql: str) -> str:
    """``sql`` with everything inside parentheses and strings blanked."""
    out, depth, quote = [], 0, ""
    for char in sql:
        if quote:
            quote = "" if char == quote else quote
            out.append(" ")
        elif char == "'":  # a string; "..." and `...` are names
            quote = char
            out.append(" ")
        elif char == "(":
            depth += 1
            out.append(" ")
        elif char == ")":
            depth = max(0, depth - 1)
            out.append(" ")
        else:
            out.append(char if depth == 0 else " ")
    return "".join(out)


def statements(sql: str) -> list[str]:
    """Split on semicolons outside quotes."""
    parts, current, quote = [], [], ""
    for char in sql:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ";":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def read(sql: str, line: int) -> list[Op]:
    """The ops of one SQL string executed at ``line``."""
    ops: list[Op] = []
    for statement in statements(sql):
        flat = " ".join(statement.split())
        dialects = _dialects(flat)
        for op in _statement(flat, line):
            op.raw = True
            if op.dialects is None:
                op.dialects = dialects
            ops.append(op)
    return ops


def _dialects(flat: str) -> frozenset[str] | None:
    if MYSQL_ONLY.search(flat):
        return frozenset({MYSQL})
    if POSTGRESQL_ONLY.search(flat) or re.search(
        r"ALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b", flat, re.I
    ):
        return frozenset({POSTGRESQL})
    return None


def _statement(flat: str, line: int) -> list[Op]:
    upper = flat.upper()
    head = upper.split(" ", 1)[0]
    if head in {"UPDATE", "DELETE"}:
        return [_write(flat, line, head.lower())]
    if head == "INSERT":
        match = re.match(r"INSERT\s+(?:IGNORE\s+)?INTO\s+" + NAME, flat, re.I)
        table = match.group(1) if match else None
        return [Op("write", line, table, statement="insert")]
    if re.match(
        r"SET\s+(SESSION\s+|LOCAL\s+)?TIME\s*ZONE\s*(=|TO)?\s*'?UTC", upper
    ):
        return [Op("utc", line, dialects=frozenset({POSTGRESQL}))]
    if head == "SET" or "SET_CONFIG" in upper:
        return [
            Op("timeout", line, dialects=frozenset({dialect}))
            for name, dialect in TIMEOUTS.items()
            if name.upper() in upper
        ]
    created = re.match(
        r"CREATE\s+(?:TEMP\w*\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?" + NAME,
        flat,
        re.I,
    )
    if created:
        return [Op("create_table", line, created.group(1))]
    if re.match(r"CREATE\s+(UNIQUE\s+)?INDEX\b", upper):
        return [_index(flat, line)]
    if re.match(r"DROP\s+TABLE\b", upper):
        match = re.match(
            r"DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?" + NAME, flat, re.I
        )
        return [Op("drop_table", line, match.group(1) if match else None)]
    match = re.match(
        r"ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?" + NAME + r"\s+(.*)",
        flat,
        re.I,
    )
    if match:
        table, rest = match.group(1), match.group(2)
        return [
            op
            for action in _actions(rest)
            for op in _alter(table, action, line)
        ]
    return []


def _write(flat: str, line: int, kind: str) -> Op:
    pattern = (
        r"UPDATE\s+(?:ONLY\s+)?" if kind == "update" else r"DELETE\s+FROM\s+"
    )
    match = re.match(pattern + NAME, flat, re.I)
    table = match.group(1) if match else None
    outer = top_level(flat)
    where = re.search(r"\bWHERE\b(.*)", outer, re.I)
    bounded = bool(where) and not TRIVIAL.match(
        _where_text(flat, where.start(1))
    )
    filled = None
    if kind == "update":
        sets = re.search(r"\bSET\b(.*?)(\bFROM\b|\bWHERE\b|$)", outer, re.I)
        if sets:
            filled = (
                frozenset(
                    m.group(1).split(".")[-1].strip('"`').lower()
                    for m in re.finditer(r"([\w.\"`]+)\s*=", sets.group(1))
                )
                or None
            )  # no column read: unknown, not "none"
    return Op(
        "write", line, table, statement=kind, bounded=bounded, filled=filled
    )


def _where_text(flat: str, start: int) -> str:
    rest = flat[start:]
    end = re.search(r"\b(RETURNING|ORDER\s+BY|LIMIT)\b", rest, re.I)
    return rest[: end.start()] if end else rest


def _index(flat: str, line: int) -> Op:
    match = re.search(r"\bON\s+(?:ONLY\s+)?" + NAME, top_level(flat), re.I)
    concurrently = bool(re.search(r"\bCONCURRENTLY\b", flat, re.I))
    return Op(
        "create_index",
        line,
        match.group(1) if match else None,
        concurrently=concurrently,
    )


def _actions(rest: str) -> list[str]:
    """The comma-separated actions of one ALTER TABLE."""
    outer = top_level(rest)
    cuts = [0] + [i + 1 for i, c in enumerate(outer) if c == ","]
    ends = [i for i, c in enumerate(outer) if c == ","] + [len(rest)]
    return [rest[a:b].strip() for a, b in zip(cuts, ends, strict=True)]


def _alter(table: str, action: str, line: int) -> list[Op]:
    upper = action.upper()
    words = upper.split()
    if not words:
        return []
    if words[0] == "ADD":
        return [_add(table, action, line)]
    if words[0] == "DROP":
        column = re.match(
            r"DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?" + NAME, action, re.I
        )
        if words[1:2] in (["CONSTRAINT"], ["INDEX"], ["KEY"], ["FOREIGN"]):
            return [Op("drop_constraint", line, table)]
        return [
            Op("drop_column", line, table, column.group(1) if column else None)
        ]
    if words[0] == "RENAME":
        to = re.search(r"\bTO\s+" + NAME, action, re.I)
        if len(words) > 1 and words[1] == "TO":
            return [
                Op(
                    "rename_table",
                    line,
                    table,
                    new_name=to.group(1) if to else None,
                )
            ]
        column = re.match(r"RENAME\s+(?:COLUMN\s+)?" + NAME, action, re.I)
        return [
            Op(
                "alter_column",
                line,
                table,
                column.group(1) if column else None,
                new_name=to.group(1) if to else "?",
            )
        ]
    if words[0] in {"ALTER", "MODIFY", "CHANGE"}:
        return _alter_column(table, action, line)
    return []


def _add(table: str, action: str, line: int) -> Op:
    upper = action.upper()
    kind = re.match(
        r"ADD\s+(?:CONSTRAINT\s+\S+\s+)?(FOREIGN\s+KEY|CHECK|UNIQUE|PRIMARY\s+KEY"
        r"|INDEX|KEY|FULLTEXT)\b",
        upper,
    )
    not_valid = bool(re.search(r"\bNOT\s+VALID\b", upper))
    if kind:
        found = kind.group(1).split()[0]
        names = {
            "FOREIGN": "create_foreign_key",
            "CHECK": "create_check_constraint",
            "UNIQUE": "create_unique_constraint",
            "PRIMARY": "create_primary_key",
        }
        proves = re.search(
            r"CHECK\s*\(\s*" + NAME + r"\s+IS\s+NOT\s+NULL\s*\)", action, re.I
        )
        return Op(
            names.get(found, "create_index"),
            line,
            table,
            not_valid=not_valid,
            not_null_check=proves.group(1).lower() if proves else None,
        )
    match = re.match(
        r"ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?" + NAME + r"\s*(\S*)",
        action,
        re.I,
    )
    column = match.group(1) if match else None
    return Op(
        "add_column",
        line,
        table,
        column,
        nullable=not re.search(r"\bNOT\s+NULL\b", upper),
        server_default=bool(re.search(r"\bDEFAULT\b", upper)),
        identity=bool(IDENTITY.search(action)),
        new_type=_type(match.group(2)) if match else None,
    )


def _alter_column(table: str, action: str, line: int) -> list[Op]:
    upper = action.upper()
    match = re.match(
        r"(ALTER|MODIFY|CHANGE)\s+(?:COLUMN\s+)?" + NAME + r"\s*(.*)",
        action,
        re.I,
    )
    if not match:
        return []
    verb, column, rest = match.group(1).upper(), match.group(2), match.group(3)
    ops: list[Op] = []
    if verb == "ALTER":
        if re.search(r"\bSET\s+NOT\s+NULL\b", upper):
            ops.append(Op("alter_column", line, table, column, nullable=False))
        kind = re.search(r"\bTYPE\s+([\w ]+(?:\([\d, ]+\))?)", rest, re.I)
        if kind:
            ops.append(
                Op(
                    "alter_column",
                    line,
                    table,
                    column,
                    new_type=_type(kind.group(1)),
                )
            )
        return ops
    if verb == "CHANGE":
        renamed = re.match(NAME + r"\s+(.*)", rest)
        new_name, rest = (
            (renamed.group(1), renamed.group(2)) if renamed else (None, rest)
        )
        if new_name and new_name.lower() != column.lower():
            ops.append(
                Op("alter_column", line, table, column, new_name=new_name)
            )
    ops.append(
        Op(
            "alter_column",
            line,
            table,
            column,
            new_type=_type(rest),
            nullable=False
            if re.search(r"\bNOT\s+NULL\b", rest, re.I)
            else None,
        )
    )
    return ops


def _type(text: str) -> TypeInfo | None:
    match = re.match(
        r"\s*([A-Za-z_]+(?:\s+PRECISION)?)\s*(?:\((\d+)[^)]*\))?", text
    )
    if not match:
        return None
    name = match.group(1).upper().replace(" PRECISION", "")
    length = int(match.group(2)) if match.group(2) else None
    if name in {"FLOAT", "DECIMAL", "NUMERIC"}:
        return TypeInfo.named(name, precision=length)
    if name in {"TIMESTAMPTZ"}:
        return TypeInfo.named("TIMESTAMP", timezone=True)
    if name in {"INT4", "INT8", "SERIAL", "BIGSERIAL"}:
        name = {"INT4": "INTEGER", "SERIAL": "INTEGER"}.get(name, "BIGINT")
    return TypeInfo.named(name, length=length)
