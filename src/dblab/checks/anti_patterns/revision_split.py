"""Exercise 2 of notebook 08: a failing revision made safe.

:func:`safe_revisions` runs the learner's revision texts where DDL
commits at once (SQLite with its default driver, like MariaDB) on data
that makes the unique index fail: the failure must leave the database
exactly at a revision boundary, and the chain must finish once the data
is fixed, and go down again.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

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
    write_revision,
)
from dblab.errors import MigrationError
from dblab.sandbox import Sandbox

SECTION_SAFE = "08_anti_patterns「データの不整合」"
HEAD = revisions.HEAD
"""The app's head: where the revision exercise's chain starts."""

TANGLED_REVISION = f'''\
"""nickname column and unique user names, in one revision"""

import sqlalchemy as sa
from alembic import op

revision = "c0ffee000001"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("nickname", sa.String(50)))
    op.create_index("ux_users_name", "users", ["name"], unique=True)


def downgrade():
    op.drop_index("ux_users_name", table_name="users")
    op.drop_column("users", "nickname")
'''
"""The exercise's starting point: two changes, the second fails on data."""

_USERS = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String(50)),
)


# -- the scenario --


def prepare_revision() -> Sandbox:
    """A SQLite sandbox whose DDL commits at once, with duplicate names.

    The sandbox uses the sqlite3 driver's own transaction handling (like
    MariaDB, a failed revision keeps the DDL that ran before the error);
    ``versions/`` holds the app's revisions plus :data:`TANGLED_REVISION`.
    """
    box = _revision_box("revision_exercise", transactional=False)
    write_revision(box, "c0_nickname_and_unique_name", TANGLED_REVISION)
    return box


def _revision_box(purpose: str, *, transactional: bool) -> Sandbox:
    box = sandbox.create(
        purpose,
        server=URL.create("sqlite"),
        migrations=True,
        transactional_sqlite=transactional,
    )
    migrate.upgrade(box, "head")
    seed.users(box.engine, 600, progress=False)
    return box


def replace_revisions(box: Sandbox, texts: Sequence[str]) -> None:
    """Remove every revision after the app's head; write ``texts`` instead.

    A stub's ``...`` writes nothing.
    """
    if texts is ... or any(text is ... for text in texts):
        return
    _remove_own(box)
    for number, text in enumerate(texts, 1):
        write_revision(box, f"step_{number}", text)


def _remove_own(box: Sandbox) -> None:
    app = {p.name for p in (settings.MIGRATIONS / "versions").glob("*.py")}
    for path in (box.migrations / "versions").glob("*.py"):
        if path.name not in app:
            path.unlink()


def _unique_name(engine: Engine) -> bool:
    inspector = sa.inspect(engine)
    return any(
        i.get("unique") and i["column_names"] == ["name"]
        for i in inspector.get_indexes("users")
    ) or any(
        u["column_names"] == ["name"]
        for u in inspector.get_unique_constraints("users")
    )


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("users")}


def _names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(_USERS.c.name).order_by(_USERS.c.id)
            ).scalars()
        )


def dedupe_names(engine: Engine) -> int:
    """Make user names unique (``name #id`` for repeats); rows changed."""
    with engine.begin() as connection:
        first = set(
            connection.execute(
                sa.select(sa.func.min(_USERS.c.id)).group_by(_USERS.c.name)
            ).scalars()
        )
        rows = connection.execute(
            sa.select(_USERS.c.id, _USERS.c.name).where(
                _USERS.c.id.not_in(first)
            )
        ).all()
        for row in rows:
            connection.execute(
                sa.update(_USERS)
                .where(_USERS.c.id == row.id)
                .values(name=f"{row.name} #{row.id}")
            )
    return len(rows)


# -- the checker --


@checker(SECTION_SAFE)
def safe_revisions(texts: Sequence[str]) -> Result:
    """Each revision one change: a failure stops at a revision boundary."""
    if isinstance(texts, str):
        texts = [texts]
    if any(text is ... for text in texts):
        return not_done(SECTION_SAFE)
    if not texts or not all(isinstance(text, str) for text in texts):
        return failed(
            "revision の本文 (文字列) のリストを渡してください "
            "(a list of revision texts)。",
            SECTION_SAFE,
        )
    with _revision_box("safe_check", transactional=False) as box:
        replace_revisions(box, texts)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Alembic warns, then fails
                chain = [r.revision for r in migrate.revisions(box)]
                heads = migrate.heads(box)
        except KeyError as error:
            return failed(
                f"down_revision {error.args[0]!r} という revision はありません"
                f" (not connected to the app's head)。最初の revision は "
                f"{HEAD!r}、次からは 1 つ前の revision を指してください。",
                SECTION_SAFE,
            )
        except Exception as error:
            return failed(
                "revision ファイルが読めません (cannot load the revisions): "
                f"{type(error).__name__}: {str(error).splitlines()[0]}",
                SECTION_SAFE,
            )
        if len(heads) != 1:
            return failed(
                f"head が {len(heads)} つあります (heads: "
                f"{', '.join(heads)})。最初の revision の down_revision を "
                f"{HEAD!r}、次からは 1 つ前の revision にしてください。",
                SECTION_SAFE,
            )
        own = chain[chain.index(HEAD) + 1 :] if HEAD in chain else []
        if len(own) != len(texts):
            return failed(
                f"{HEAD!r} からつながっていない revision があります "
                "(not connected to the app's head)。",
                SECTION_SAFE,
            )
        names = _names(box.engine)
        try:
            migrate.upgrade(box, "head")
        except MigrationError as error:
            failure = str(error)
        else:
            return _succeeded_anyway(box, names)
        return _after_failure(box, own, failure)


def _succeeded_anyway(box: Sandbox, names: list[str]) -> Result:
    if not _unique_name(box.engine):
        return failed(
            "upgrade は通りましたが users.name の一意インデックスがありません"
            " (unique index on users.name missing)。変更を削らずに、"
            "失敗しても途中で止まらない形にしてください。",
            SECTION_SAFE,
        )
    if _names(box.engine) != names:
        return failed(
            "revision が users.name のデータを書き換えました (the revision "
            "changed user names)。名前の重複をどう直すかはチームで決める"
            "ことです。この演習では revision の分け方だけを直してください。",
            SECTION_SAFE,
        )
    return failed(
        "重複した名前があるのに一意インデックスが作れました "
        "(unexpected success)。",
        SECTION_SAFE,
    )


def _after_failure(box: Sandbox, own: list[str], failure: str) -> Result:
    now = migrate.current(box)
    stopped = now[0] if now else "base"
    with sandbox.create(
        "safe_reference", server=URL.create("sqlite"), migrations=True
    ) as reference:
        _remove_own(reference)
        for path in (box.migrations / "versions").glob("step_*.py"):
            write_revision(reference, path.name, path.read_text("utf-8"))
        migrate.upgrade(reference, stopped)
        expected = schema.snapshot(reference.engine, count_rows=False)
    found = schema.snapshot(box.engine, count_rows=False)
    residue = schema.diff(expected, found)
    if residue:
        return failed(
            f"upgrade が失敗した後、データベースは revision {stopped} の"
            "はずのスキーマと違います: 失敗した revision の途中までの変更が"
            "残っています (half-applied revision)。1 つの revision に"
            "変更を 1 つだけにしてください。",
            SECTION_SAFE,
            *residue.changes,
            f"失敗: {failure.splitlines()[0][:160]}",
        )
    dedupe_names(box.engine)
    try:
        migrate.upgrade(box, "head")
    except MigrationError as error:
        return failed(
            "名前の重複を直した後の upgrade が失敗しました (upgrade after "
            f"fixing the data failed): {error}",
            SECTION_SAFE,
        )
    if "nickname" not in _columns(box.engine) or not _unique_name(box.engine):
        return failed(
            "最後まで適用しても users.nickname と users.name の一意"
            "インデックスがそろいません (both changes must remain)。",
            SECTION_SAFE,
        )
    try:
        migrate.downgrade(box, HEAD)
    except MigrationError as error:
        return failed(
            f"{HEAD} への downgrade が失敗しました (downgrade failed): "
            f"{error}",
            SECTION_SAFE,
        )
    if "nickname" in _columns(box.engine) or _unique_name(box.engine):
        return failed(
            "downgrade の後も nickname 列か一意インデックスが残っています "
            "(downgrade left changes behind)。",
            SECTION_SAFE,
        )
    return passed(
        "失敗しても revision の境目で止まり、データを直せば続きから"
        "適用でき、downgrade でも戻せます。",
        f"{len(own)} つの revision。重複のため revision {stopped} の"
        "次で止まり、途中までの変更は残りませんでした",
        "重複を直した後の upgrade head、downgrade も成功",
    )
