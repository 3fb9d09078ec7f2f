"""Exercise 1 of notebook 06 (split migrations): NOT NULL in safe steps.

The learner writes revision files into the private ``versions/`` folder
of the exercise sandbox: first a backfill, then the ALTER to NOT NULL.
:func:`split_not_null` never runs them on the learner's own sandbox: it
copies them into a fresh sandbox on the same server, fills ``users`` with
rows that include NULL e-mails and duplicate names, upgrades one revision
at a time, downgrades again and upgrades once more, and says in Japanese
what broke and in which file. The learner's sandbox stays usable.
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from dblab import migrate, revisions, sandbox, schema, seed, settings
from dblab.checks import (
    Result,
    checker,
    failed,
    not_done,
    passed,
    server_of,
)
from dblab.errors import MigrationError

SECTION = "06_split_migrations「サンプル 3: NOT NULL への変更」"
BASE = (revisions.USERS_CREATED, revisions.AGE_ADDED)
"""The revisions the exercise starts from: users, then users.age."""
START = BASE[-1]


def seed_users(engine: Engine, count: int, *, null_every: int = 10) -> int:
    """Insert ``count`` users through :func:`dblab.seed.users`.

    One e-mail in ``null_every`` is NULL (spread over the rows); names
    repeat, e-mails are unique. Returns the number of NULL e-mails.
    """
    fraction = 1 / null_every
    seed.users(engine, count, with_null_emails=fraction)
    return round(count * fraction)  # what dblab.seed makes NULL


_users = sa.table(
    "users", sa.column("id"), sa.column("name"), sa.column("email")
)


def keep_only(folder: Path, revisions: tuple[str, ...] = BASE) -> None:
    """Delete the revision files of ``folder`` not in ``revisions``."""
    for path in folder.glob("*.py"):
        if not any(f"-{rev}_" in path.name for rev in revisions):
            path.unlink()
    shutil.rmtree(folder / "__pycache__", ignore_errors=True)


def prepare(server: URL | None = None) -> sandbox.Sandbox:
    """The exercise's start: ``users`` at AGE_ADDED with NULL e-mails.

    Only the first two revisions are left in the sandbox's ``versions/``;
    the learner adds the next ones there.
    """
    box = sandbox.create("split_exercise", server=server, migrations=True)
    keep_only(box.migrations / "versions")
    migrate.upgrade(box, "head")
    seed_users(box.engine, settings.scaled(1000, 200))
    return box


@dataclass(frozen=True)
class State:
    """What the checker compares between steps."""

    rows: int
    nulls: frozenset[int]
    kept: dict[int, tuple[str, str]]
    emails: dict[int, str | None]
    nullable: bool
    unique: bool


def state(engine: Engine) -> State:
    """Rows, NULL ids, original e-mails and the shape of ``users.email``."""
    inspector = sa.inspect(engine)
    column = next(
        c for c in inspector.get_columns("users") if c["name"] == "email"
    )
    unique = any(
        u["column_names"] == ["email"]
        for u in inspector.get_unique_constraints("users")
    ) or any(
        i.get("unique") and i["column_names"] == ["email"]
        for i in inspector.get_indexes("users")
    )
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(_users.c.id, _users.c.name, _users.c.email)
        ).all()
    return State(
        rows=len(rows),
        nulls=frozenset(r.id for r in rows if r.email is None),
        kept={r.id: (r.name, r.email) for r in rows},
        emails={r.id: r.email for r in rows},
        nullable=bool(column["nullable"]),
        unique=unique,
    )


def _literal(tree: ast.Module, name: str) -> tuple[bool, object]:
    """(found, value) of a top-level ``name = <literal>`` assignment."""
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            try:
                return True, ast.literal_eval(value)
            except ValueError:
                return True, None
    return False, None


def read_chain(
    folder: Path, section: str = SECTION
) -> list[tuple[str, str]] | Result:
    """The learner's revisions as ``[(file, revision)]`` from AGE_ADDED.

    Or a failed Result naming the file: syntax error, no ``revision``, a
    ``down_revision`` that points nowhere, a branch.
    """
    files = sorted(
        p
        for p in folder.glob("*.py")
        if not any(f"-{rev}_" in p.name for rev in BASE)
    )
    if not files:
        return not_done(section)
    found: dict[str, tuple[str, object]] = {}
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), path.name)
        except SyntaxError as error:
            return failed(
                f"{path.name} の {error.lineno} 行目に文法エラーがあります "
                f"(syntax error): {error.msg}",
                section,
            )
        has_rev, revision = _literal(tree, "revision")
        if not has_rev or not isinstance(revision, str) or not revision:
            return failed(
                f"{path.name} に revision = '...' (文字列の ID) が"
                "ありません (no revision id)。",
                section,
            )
        if revision in found or revision in BASE:
            return failed(
                f"{path.name} の revision {revision!r} は他のファイルと"
                "同じ ID です (duplicate revision id)。",
                section,
            )
        _, down = _literal(tree, "down_revision")
        found[revision] = (path.name, down)
    known = set(BASE) | set(found)
    for name, down in found.values():
        if not isinstance(down, str) or down not in known:
            return failed(
                f"{name} の down_revision {down!r} という revision は"
                f"ありません (down_revision points nowhere)。最初の "
                f"revision は {START!r}、次の revision は 1 つ前の "
                "revision の ID を指してください。",
                section,
            )
    chain: list[tuple[str, str]] = []
    parent = START
    while True:
        children = [r for r, (_, down) in found.items() if down == parent]
        if not children:
            break
        if len(children) > 1:
            names = ", ".join(found[r][0] for r in children)
            return failed(
                f"{names} が同じ revision {parent!r} の次になっています "
                "(multiple heads)。1 本の列につないでください。",
                section,
            )
        parent = children[0]
        chain.append((found[parent][0], parent))
    in_chain = {revision for _, revision in chain}
    loose = [name for r, (name, _) in found.items() if r not in in_chain]
    if loose:
        return failed(
            f"{', '.join(loose)} が {START!r} からの列につながって"
            "いません (not connected)。down_revision を確かめてください。",
            section,
        )
    return chain


def _why(error: MigrationError) -> str:
    text = str(error)
    lower = text.lower()
    if "unique" in lower or "duplicate" in lower:
        return (
            "埋めた値が一意ではありません (UNIQUE violation)。NULL の行が "
            "2 行以上あると、同じ値では埋められません。id を含めるなど、"
            "行ごとに違う値にしてください。"
        )
    if "null" in lower or "data truncated" in lower:
        return (
            "NULL の行が残ったまま NOT NULL にしようとしました "
            "(NULL values remain)。先に backfill する revision を"
            "置いてください。"
        )
    return text


def _lost(before: State, now: State) -> str | None:
    if now.rows != before.rows:
        return (
            f"行数が {before.rows} から {now.rows} に変わりました "
            "(rows lost)。"
        )
    changed = [
        i
        for i, (name, email) in before.kept.items()
        if email is not None and now.kept.get(i) != (name, email)
    ]
    if changed:
        return (
            f"もともと値のあった {len(changed)} 行の name / email が"
            f"変わりました (data changed, e.g. id={changed[0]})。"
            "NULL の行だけを埋めてください。"
        )
    return None


@checker(SECTION)
def split_not_null(exercise: sandbox.Sandbox) -> Result:
    """Backfill, then NOT NULL, as separate revisions that go up and down."""
    chain = read_chain(exercise.migrations / "versions")
    if isinstance(chain, Result):
        return chain
    if len(chain) < 2:
        return failed(
            f"revision が {chain[0][0]} の 1 つだけです。backfill と "
            "NOT NULL への変更を別々の revision に分けてください "
            "(split into steps)。",
            SECTION,
        )
    with sandbox.create(
        "split_check", server=server_of(exercise), migrations=True
    ) as box:
        versions = box.migrations / "versions"
        keep_only(versions)
        migrate.upgrade(box, START)
        seed_users(box.engine, settings.scaled(200, 60), null_every=7)
        for name, _ in chain:
            shutil.copy(exercise.migrations / "versions" / name, versions)
        return _run(box, chain)


def _shape(box: sandbox.Sandbox) -> schema.Snapshot:
    return schema.snapshot(box.engine, count_rows=False)


def _run(box: sandbox.Sandbox, chain: list[tuple[str, str]]) -> Result:
    """Up one revision at a time, down again, up once more."""
    before = state(box.engine)
    start = _shape(box)
    upgraded = _upgrade_steps(box, chain, before)
    if isinstance(upgraded, Result):
        return upgraded
    down = _downgrade_steps(box, chain, before, upgraded[1])
    if isinstance(down, Result):
        return down
    left = schema.diff(start, _shape(box)).changes
    if left:
        return failed(
            "すべて downgrade した後、始めの形と違います (left over): "
            f"{'; '.join(left)}",
            SECTION,
        )
    try:
        migrate.upgrade(box, chain[-1][1])
    except MigrationError as error:
        return failed(
            "downgrade の後にもう一度 upgrade できません (re-upgrade "
            f"failed): {_why(error)}",
            SECTION,
        )
    details = [
        f"{len(chain)} つの revision: "
        + " → ".join(name for name, _ in chain),
        f"{before.rows} 行、NULL だった {len(before.nulls)} 行は "
        f"{len({upgraded[0].emails[i] for i in before.nulls})} 種類の"
        "一意な値で埋まりました",
    ]
    if down.nulls == before.nulls:
        details.append("downgrade で仮の値は NULL に戻りました")
    else:
        details.append(
            "注意: downgrade 後も仮の値が残っています (NULL に戻す"
            "と、元の状態に完全に戻せます)"
        )
    return passed(
        "backfill → NOT NULL の順に分割され、upgrade / downgrade / "
        "upgrade がデータを失わずに通りました。",
        *details,
    )


def _upgrade_steps(
    box: sandbox.Sandbox, chain: list[tuple[str, str]], before: State
) -> tuple[State, str | None] | Result:
    """Upgrade revision by revision; the state at the end and the file
    that made ``email`` NOT NULL, or what went wrong."""
    backfilled = False
    tightened = None
    shape = _shape(box)
    for name, revision in chain:
        try:
            migrate.upgrade(box, revision)
        except MigrationError as error:
            return failed(
                f"{name} の upgrade が失敗しました (upgrade failed): "
                f"{_why(error)}",
                SECTION,
            )
        changed, shape = schema.diff(shape, _shape(box)).changes, _shape(box)
        other = [c for c in changed if not c.startswith("~ 列 users.email")]
        if other:
            return failed(
                f"{name} は email の NOT NULL 化と関係のない変更もしています "
                f"(one change per revision): {'; '.join(other)}",
                SECTION,
            )
        now = state(box.engine)
        lost = _lost(before, now)
        if lost:
            return failed(f"{name} の upgrade 後: {lost}", SECTION)
        if now.nullable and not now.nulls:
            backfilled = True
        if not now.nullable and tightened is None:
            tightened = name
        if not now.nullable and not backfilled:
            return failed(
                f"{name} が backfill と NOT NULL への変更を 1 つの "
                "revision で行っています。backfill だけの revision を先に"
                "置いてください (split into steps)。",
                SECTION,
            )
    if now.nullable:
        return failed(
            "最後の revision の後も users.email が NULL を許しています "
            "(email is still nullable)。",
            SECTION,
        )
    if not now.unique or len(set(now.emails.values())) != now.rows:
        return failed(
            "users.email の UNIQUE 制約がなくなっています "
            "(unique constraint lost)。制約は残したまま、行ごとに違う"
            "値で埋めてください。",
            SECTION,
        )
    return now, tightened


def _downgrade_steps(
    box: sandbox.Sandbox,
    chain: list[tuple[str, str]],
    before: State,
    tightened: str | None,
) -> State | Result:
    """Downgrade revision by revision back to START; the state there."""
    parents = [START] + [revision for _, revision in chain[:-1]]
    for (name, _), parent in reversed(list(zip(chain, parents, strict=True))):
        try:
            migrate.downgrade(box, parent)
        except MigrationError as error:
            return failed(
                f"{name} の downgrade が失敗しました (downgrade failed): "
                f"{error}",
                SECTION,
            )
        now = state(box.engine)
        lost = _lost(before, now)
        if lost:
            return failed(f"{name} の downgrade 後: {lost}", SECTION)
        if name == tightened and not now.nullable:
            return failed(
                f"{name} を downgrade した後も users.email が NOT NULL の"
                "ままです (downgrade did not allow NULL again)。",
                SECTION,
            )
    down = state(box.engine)
    if not down.nullable:
        return failed(
            "downgrade した後も users.email が NOT NULL のままです "
            "(downgrade did not allow NULL again)。",
            SECTION,
        )
    return down
