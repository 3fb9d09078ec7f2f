"""``dblab lint``: revision files checked for the lecture's anti-patterns.

Each finding has a code, a file and line, one Japanese sentence and the
notebook section that teaches the fix. The codes follow Atlas's migration
analyzers: ``DS`` destructive changes, ``MF`` changes that may fail on
existing data, ``BC`` backward-incompatible changes; ``MG`` are the kit's
own (structure of a revision), ``NM`` naming.

A finding is waived in the revision file itself, with a reason::

    # dblab-lint: ignore[MG201] backfill and ALTER belong together here

A waiver without a reason is a finding of its own (``LW001``).
"""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dblab import settings
from dblab.errors import DblabError

RULES: dict[str, tuple[str, str]] = {
    "MG101": (
        "downgrade() がありません。戻せない revision は本番で逃げ道を失います",
        "06_split_migrations「downgrade() でデータが失われるとき」",
    ),
    "MG102": (
        "downgrade() が空です (pass / NotImplementedError)。何を戻すか書くか、"
        "戻せない理由をコメントで waiver にしてください",
        "06_split_migrations「downgrade() でデータが失われるとき」",
    ),
    "MF103": (
        "NOT NULL の列を server_default なしで追加しています。既存の行がある"
        "テーブルでは失敗します",
        "05_alembic_first_steps「カラム追加のパターン」",
    ),
    "MF104": (
        "NULL 可 → NOT NULL の変更の前に、既存の NULL を埋める手順 (backfill) "
        "がありません",
        "06_split_migrations「サンプル 3: NOT NULL への変更」",
    ),
    "DS102": (
        "テーブルを削除しています。中のデータはすべて失われます",
        "08_anti_patterns「適切なバックアップ計画の欠如」",
    ),
    "DS103": (
        "列を削除しています。その列のデータは失われます",
        "06_split_migrations「downgrade() でデータが失われるとき」",
    ),
    "BC101": (
        "テーブル名を変えています。動いている古いアプリが壊れます "
        "(expand → migrate → contract にしてください)",
        "06_split_migrations「列名の変更: expand → migrate → contract」",
    ),
    "BC102": (
        "列名を変えています。動いている古いアプリが壊れます "
        "(expand → migrate → contract にしてください)",
        "06_split_migrations「列名の変更: expand → migrate → contract」",
    ),
    "BC103": (
        "同じテーブルで列の削除と追加をしています。列名の変更のつもりなら"
        "データが失われます (autogenerate は rename を drop + add と読みます)",
        "05_alembic_first_steps「autogenerate と、見えないもの」",
    ),
    "MF201": (
        "WHERE のない UPDATE / DELETE です。全行を 1 つのトランザクションで"
        "変更し、長いロックになります (バッチに分けてください)",
        "08_anti_patterns「大規模な一括更新」",
    ),
    "MG201": (
        "スキーマ変更とデータ変更が 1 つの revision に混ざっています。"
        "失敗したときの切り分けと戻し方が難しくなります",
        "08_anti_patterns「過度に複雑なマイグレーション」",
    ),
    "MG301": (
        "head が複数あります。`alembic merge heads` で 1 つにまとめてください",
        "07_testing_and_versioning「ブランチとマージ」",
    ),
    "NM101": (
        "テーブル名が SQL の予約語です。手書きの SQL でクォートが必要になり、"
        "PostgreSQL では `user` が別の意味になります",
        "06_split_migrations「サンプル 1: テーブルの追加」",
    ),
    "LW001": (
        "waiver に理由がありません。`# dblab-lint: ignore[CODE] 理由` の形に"
        "してください",
        "07_testing_and_versioning「リンター」",
    ),
}

RESERVED = {
    "user", "order", "group", "select", "table", "from", "where", "key",
    "desc", "index", "column", "check", "default", "grant", "limit",
    "primary", "references", "union", "all", "and", "or", "to", "end",
    "offset", "window", "rank", "values", "session", "role",
}  # fmt: skip
DDL = {
    "create_table", "drop_table", "add_column", "drop_column",
    "alter_column", "create_index", "drop_index", "rename_table",
    "create_foreign_key", "create_unique_constraint", "drop_constraint",
}  # fmt: skip
WAIVER = re.compile(r"#\s*dblab-lint:\s*ignore\[([A-Z0-9, ]+)\]\s*(.*)")
WRITE_SQL = re.compile(r"^\s*(UPDATE|DELETE)\b", re.I)


class LintError(DblabError):
    """The input cannot be linted (not a versions folder, bad syntax...)."""


@dataclass(frozen=True)
class Finding:
    code: str
    path: Path
    line: int
    detail: str = ""

    @property
    def message(self) -> str:
        return RULES[self.code][0]

    @property
    def section(self) -> str:
        return RULES[self.code][1]

    def __str__(self) -> str:
        where = _shown(self.path)
        extra = f" ({self.detail})" if self.detail else ""
        return (
            f"{where}:{self.line}: {self.code} {self.message}{extra}"
            f" → {self.section}"
        )


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(settings.ROOT))
    except ValueError:
        return str(path)


@dataclass
class Revision:
    """What the linter knows of one revision file."""

    path: Path
    tree: ast.Module
    revision: str | None
    down_revision: tuple[str, ...]
    tables: dict[str, str] = field(default_factory=dict)  # var -> table
    waivers: dict[str, str] = field(default_factory=dict)
    waiver_lines: dict[str, int] = field(default_factory=dict)


def parse(path: Path) -> Revision:
    """Read one revision file; a syntax error is a LintError naming it."""
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as error:
        raise LintError(
            f"{_shown(path)}:{error.lineno}: 構文エラー (syntax error): "
            f"{error.msg}。ファイルを直してから、もう一度実行してください"
        ) from None
    values: dict[str, object] = {}
    for node in tree.body:
        target = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign):
            target = node.target
        if isinstance(target, ast.Name) and isinstance(node.value, ast.Call):
            if _attr(node.value) in {"table", "Table"} and node.value.args:
                name = _string(node.value.args[0])
                if name:
                    values.setdefault("__tables__", {})[target.id] = name
        if isinstance(target, ast.Name) and node.value is not None:
            try:
                values[target.id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    down = values.get("down_revision")
    if isinstance(down, str):
        downs: tuple[str, ...] = (down,)
    elif isinstance(down, list | tuple):
        downs = tuple(down)
    else:
        downs = ()
    revision = Revision(
        path, tree, values.get("revision"), downs, values.get("__tables__", {})
    )
    for number, line in enumerate(source.splitlines(), 1):
        match = WAIVER.search(line)
        if match:
            for code in match.group(1).replace(" ", "").split(","):
                revision.waivers[code] = match.group(2).strip()
                revision.waiver_lines[code] = number
    return revision


def _function(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


@dataclass(frozen=True)
class Op:
    """One ``op.<name>(...)`` or ``batch_op.<name>(...)`` call."""

    name: str
    table: str | None
    node: ast.Call


def _string(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and _attr(node) == "f" and node.args:
        return _string(node.args[0])  # op.f("name")
    return None


def _attr(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def operations(function: ast.FunctionDef) -> Iterator[Op]:
    """The Alembic operations of a function, in source order."""
    batches: dict[str, str | None] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if (
                    isinstance(call, ast.Call)
                    and _attr(call) == "batch_alter_table"
                    and isinstance(item.optional_vars, ast.Name)
                ):
                    table = _string(call.args[0]) if call.args else None
                    batches[item.optional_vars.id] = table
    calls = [
        n
        for n in ast.walk(function)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    ]
    for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
        owner = call.func.value
        if not isinstance(owner, ast.Name):
            continue
        name = call.func.attr
        if owner.id == "op":
            table = _table_of(name, call)
        elif owner.id in batches:
            table = batches[owner.id]
        else:
            continue
        yield Op(name, table, call)


def _table_of(name: str, call: ast.Call) -> str | None:
    if name in {"create_index", "drop_index"}:
        arg = call.args[1] if len(call.args) > 1 else None
        return _string(arg or _keyword(call, "table_name"))
    return _string(call.args[0]) if call.args else None


def _is_empty(function: ast.FunctionDef) -> bool:
    body = [
        n
        for n in function.body
        if not (
            isinstance(n, ast.Expr)
            and isinstance(n.value, ast.Constant)
            and isinstance(n.value.value, str)
        )
    ]
    if not body:
        return True
    if all(isinstance(n, ast.Pass) for n in body):
        return True
    return len(body) == 1 and isinstance(body[0], ast.Raise)


def _column_call(op: Op) -> ast.Call | None:
    for arg in op.node.args:
        if isinstance(arg, ast.Call) and _attr(arg) == "Column":
            return arg
        if (
            isinstance(arg, ast.Call)
            and getattr(arg.func, "id", "") == "Column"
        ):
            return arg
    return None


def _false(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _is_data_change(op: Op) -> tuple[bool, bool]:
    """(changes data, without a WHERE) for op.execute / bulk_insert."""
    if op.name == "bulk_insert":
        return True, False
    if op.name != "execute" or not op.node.args:
        return False, False
    statement = op.node.args[0]
    text = _string(statement)
    if text is None and isinstance(statement, ast.Call):
        text = _string(statement.args[0]) if statement.args else None
    if text is not None:
        writes = bool(
            WRITE_SQL.match(text) or text.lstrip().upper().startswith("INSERT")
        )
        unbounded = (
            bool(WRITE_SQL.match(text))
            and " where " not in f" {text.lower()} "
        )
        return writes, unbounded
    chain = ast.dump(statement)
    writes = any(
        word in chain for word in ("'update'", "'delete'", "'insert'")
    )
    unbounded = writes and "'insert'" not in chain and "'where'" not in chain
    return writes, unbounded


def check_revision(
    revision: Revision, earlier: list[Revision] | None = None
) -> list[Finding]:
    """The findings of one revision file.

    ``earlier``: the revisions below it in the chain, so a backfill two
    steps before a NOT NULL change still counts.
    """
    found: list[Finding] = []
    path = revision.path
    upgrade = _function(revision.tree, "upgrade")
    downgrade = _function(revision.tree, "downgrade")
    if downgrade is None:
        found.append(Finding("MG101", path, 1))
    elif _is_empty(downgrade):
        found.append(Finding("MG102", path, downgrade.lineno))
    if upgrade is None:
        return found
    ops = list(operations(upgrade))
    tables = revision.tables
    backfilled: set[str | None] = set()
    for before in earlier or []:
        previous = _function(before.tree, "upgrade")
        if previous is not None:
            for op in operations(previous):
                if _is_data_change(op)[0]:
                    backfilled.add(_data_table(op, before.tables))
    dropped: dict[str | None, int] = {}
    added: dict[str | None, int] = {}
    has_ddl = has_data = False
    for op in ops:
        line = op.node.lineno
        writes, unbounded = _is_data_change(op)
        if writes:
            has_data = True
            backfilled.add(_data_table(op, tables))
            if unbounded:
                found.append(Finding("MF201", path, line))
        if op.name in DDL:
            has_ddl = True
        if op.name == "create_table" and (op.table or "").lower() in RESERVED:
            found.append(Finding("NM101", path, line, op.table or ""))
        if op.name == "rename_table":
            found.append(Finding("BC101", path, line, op.table or ""))
            target = (
                _string(op.node.args[1]) if len(op.node.args) > 1 else None
            )
            if (target or "").lower() in RESERVED:
                found.append(Finding("NM101", path, line, target or ""))
        if op.name == "drop_table":
            found.append(Finding("DS102", path, line, op.table or ""))
        if op.name == "drop_column":
            dropped[op.table] = line
            found.append(Finding("DS103", path, line, _column_name(op)))
        if op.name == "add_column":
            added[op.table] = line
            column = _column_call(op)
            if (
                column is not None
                and _false(_keyword(column, "nullable"))
                and _keyword(column, "server_default") is None
            ):
                found.append(Finding("MF103", path, line, _column_name(op)))
        if op.name == "alter_column":
            if _keyword(op.node, "new_column_name") is not None:
                found.append(Finding("BC102", path, line, _column_name(op)))
            if _false(_keyword(op.node, "nullable")) and not (
                {op.table, None} & backfilled
            ):
                found.append(Finding("MF104", path, line, _column_name(op)))
    for table in dropped.keys() & added.keys():
        found.append(Finding("BC103", path, dropped[table], table or ""))
    if has_ddl and has_data:
        found.append(Finding("MG201", path, upgrade.lineno))
    return _apply_waivers(revision, found)


def _data_table(op: Op, tables: dict[str, str]) -> str | None:
    """The table a data change writes to, when it can be told."""
    if op.name == "bulk_insert" or not op.node.args:
        return None
    statement = op.node.args[0]
    text = _string(statement)
    if text is not None:
        match = re.search(
            r"(?:UPDATE|INTO|FROM)\s+[\"`]?(\w+)", text, flags=re.I
        )
        return match.group(1) if match else None
    root = statement
    while isinstance(root, ast.Call | ast.Attribute):
        root = root.func if isinstance(root, ast.Call) else root.value
    if isinstance(root, ast.Name):
        return tables.get(root.id, root.id)
    return None


def _column_name(op: Op) -> str:
    column = _column_call(op)
    if column is not None and column.args:
        return _string(column.args[0]) or ""
    args = op.node.args
    if op.table is not None and args and _string(args[0]) != op.table:
        return _string(args[0]) or ""
    return (_string(args[1]) if len(args) > 1 else _string(args[0])) or ""


def _apply_waivers(revision: Revision, found: list[Finding]) -> list[Finding]:
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


def _ancestors(
    revision: Revision, by_id: dict[str | None, Revision]
) -> list[Revision]:
    """Every revision below ``revision`` in its folder, nearest first."""
    seen: dict[str, Revision] = {}
    queue = list(revision.down_revision)
    while queue:
        down = queue.pop(0)
        found = by_id.get(down)
        if found is not None and down not in seen:
            seen[down] = found
            queue.extend(found.down_revision)
    return list(seen.values())


def revision_files(path: Path) -> list[Path]:
    """The revision files of a versions folder (or the file itself)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise LintError(
            f"{path}: ファイルもフォルダも見つかりません (not found)"
        )
    files = sorted(p for p in path.glob("*.py") if p.name != "__init__.py")
    if not any(
        "down_revision" in p.read_text(encoding="utf-8") for p in files
    ):
        raise LintError(
            f"{_shown(path)}: revision ファイルがありません (not a versions "
            "folder)。migrations/versions のようなフォルダを指定してください"
        )
    return files


def lint(path: Path) -> list[Finding]:
    """Lint one revision file or a whole versions folder."""
    revisions = [parse(p) for p in revision_files(path)]
    by_id = {r.revision: r for r in revisions if r.revision}
    found: list[Finding] = []
    folder = path.is_dir()
    for revision in revisions:
        if folder:
            for down in revision.down_revision:
                if down not in by_id:
                    raise LintError(
                        f"{_shown(revision.path)}: down_revision {down!r} "
                        "の revision がこのフォルダにありません (broken "
                        "chain)。ID の書き間違いか、ファイルの入れ忘れです"
                    )
        found += check_revision(revision, _ancestors(revision, by_id))
    if folder:
        parents = {d for r in revisions for d in r.down_revision}
        heads = [r for r in revisions if r.revision not in parents]
        if len(heads) > 1:
            names = ", ".join(sorted(str(r.revision) for r in heads))
            found.append(Finding("MG301", path, 1, names))
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="revision ファイルか versions フォルダ (既定: 本キットのもの)",
    )


def run(args: argparse.Namespace) -> int:
    paths = args.paths or [settings.MIGRATIONS / "versions"]
    found = [finding for path in paths for finding in lint(path)]
    for finding in found:
        print(finding)
    if found:
        print(f"\n{len(found)} 件の指摘があります (findings)。")
        return 1
    print("指摘はありません (no findings)。")
    return 0
