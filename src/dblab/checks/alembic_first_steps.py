"""Checkers for notebook 05 (Alembic first steps): a revision of your own.

The exercise: write a revision that adds ``users.status`` (a string,
NOT NULL, server default ``'active'``) and a downgrade that removes it.
The learner writes the file into the versions folder of their exercise
sandbox; :func:`status_column` copies it into a fresh sandbox with data,
runs it up, down and up again, and says what broke. The learner's own
sandbox is never migrated by the checker, so it stays usable whatever
the file does.
"""

from __future__ import annotations

import importlib.util
import shutil
import textwrap
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from dblab import migrate, sandbox, seed, settings
from dblab.checks import Result, checker, failed, passed, server_of
from dblab.errors import MigrationError

SECTION = "05_alembic_first_steps「カラム追加のパターン」"
SECTION_FILE = "05_alembic_first_steps「revision -m でファイルを作る」"
COLUMN = "status"
DEFAULT = "active"
MESSAGE = "add users status"


def kit_head() -> str:
    """The head revision of the kit's own migrations."""
    (head,) = migrate.heads()
    return head


def users_table() -> sa.TableClause:
    """The columns of ``users`` the checks read and write."""
    return sa.table(
        "users",
        sa.column("id"),
        sa.column("name"),
        sa.column("email"),
        sa.column("age"),
    )


def prepare() -> sandbox.Sandbox:
    """The exercise's start: a sandbox at the kit's head, with users."""
    box = sandbox.create("alembic_first_steps_exercise", migrations=True)
    migrate.upgrade(box, "head")
    seed.users(box.engine, settings.scaled(200, 30))
    return box


def new_revision(box: sandbox.Sandbox, message: str = MESSAGE) -> Path:
    """``alembic revision -m message`` in the sandbox; the new file's path."""
    script = command.revision(migrate.config(box), message=message)
    return Path(script.path)


def write_functions(path: Path, upgrade: str, downgrade: str) -> None:
    """Replace the bodies of ``upgrade()`` and ``downgrade()`` in ``path``.

    Everything above ``def upgrade`` (docstring, imports, revision ids)
    stays as Alembic generated it.
    """
    head, found, _ = path.read_text(encoding="utf-8").partition(
        "def upgrade() -> None:"
    )
    if not found:
        raise ValueError(f"{path.name} に def upgrade() -> None: がありません")

    def body(code: str) -> str:
        return textwrap.indent(textwrap.dedent(code).strip("\n"), "    ")

    path.write_text(
        f"{head}def upgrade() -> None:\n{body(upgrade)}\n\n\n"
        f"def downgrade() -> None:\n{body(downgrade)}\n",
        encoding="utf-8",
    )


def learner_files(box: sandbox.Sandbox) -> list[Path]:
    """Revision files in the sandbox that the kit does not have."""
    kit = {p.name for p in (settings.MIGRATIONS / "versions").glob("*.py")}
    versions = box.migrations / "versions"
    return sorted(p for p in versions.glob("*.py") if p.name not in kit)


def _load(path: Path) -> tuple[object, str | None]:
    """The module of a revision file, or a Japanese sentence why not."""
    source = path.read_text(encoding="utf-8")
    try:
        compile(source, str(path), "exec")
    except SyntaxError as error:
        return None, (
            f"ファイル {path.name} の {error.lineno} 行目に文法エラーが"
            f"あります (syntax error): {error.msg}"
        )
    spec = importlib.util.spec_from_file_location(f"_rev_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        return None, (
            f"ファイル {path.name} を読み込むとエラーになります "
            f"({type(error).__name__}: {error})"
        )
    return module, None


def _static_problem(path: Path) -> str | None:
    """What is wrong with the file before anything runs, if anything."""
    module, problem = _load(path)
    if problem:
        return problem
    revision = getattr(module, "revision", None)
    down = getattr(module, "down_revision", None)
    known = {script.revision for script in migrate.revisions()}
    head = kit_head()
    if not isinstance(revision, str) or not revision:
        return f"ファイル {path.name} に revision (文字列の ID) がありません。"
    for name in ("upgrade", "downgrade"):
        if not callable(getattr(module, name, None)):
            return f"ファイル {path.name} に {name}() 関数がありません。"
    if down is None:
        return (
            f"ファイル {path.name} の down_revision が None です。これでは"
            "最初のマイグレーションがもう 1 つある形になります (a second "
            f"base)。down_revision = {head!r} (今の head) にしてください。"
        )
    if down not in known:
        return (
            f"ファイル {path.name} の down_revision {down!r} はどの revision"
            " も指していません (down_revision points nowhere)。今の head は "
            f"{head!r} です。"
        )
    if down != head:
        return (
            f"ファイル {path.name} の down_revision {down!r} は head では"
            "ありません。このままでは head が 2 つになります (multiple "
            f"heads)。down_revision = {head!r} にしてください。"
        )
    return None


def _rows(engine: sa.Engine) -> list[tuple]:
    users = users_table()
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                sa.select(users).order_by(users.c.id)
            )
        ]


def _status_column(engine: sa.Engine) -> dict | None:
    for column in sa.inspect(engine).get_columns("users"):
        if column["name"] == COLUMN:
            return column
    return None


def _after_upgrade(engine: sa.Engine, before: list[tuple]) -> str | None:
    """What is wrong with ``users`` after the upgrade, if anything."""
    column = _status_column(engine)
    if column is None:
        return f"upgrade の後に users.{COLUMN} 列がありません。"
    if _rows(engine) != before:
        return "upgrade で既存の行が変わったか、失われました (rows lost)。"
    if column["nullable"]:
        return (
            f"users.{COLUMN} が NULL を許しています。nullable=False に"
            "してください。"
        )
    if column.get("default") is None:
        return (
            f"users.{COLUMN} に server default (データベース側の既定値) が"
            f"ありません。server_default={DEFAULT!r} を付けてください。"
        )
    status = sa.table("users", sa.column(COLUMN))
    with engine.connect() as connection:
        values = connection.execute(
            sa.select(status.c[COLUMN]).distinct()
        ).scalars()
        wrong = sorted(repr(v) for v in values if v != DEFAULT)
    if wrong:
        return (
            f"既存の行の {COLUMN} が {DEFAULT!r} になっていません "
            f"({', '.join(wrong)})。server_default={DEFAULT!r} にして"
            "ください。"
        )
    users = users_table()
    with engine.connect() as connection:
        transaction = connection.begin()
        new_id = connection.execute(sa.select(sa.func.max(users.c.id)))
        connection.execute(
            sa.insert(users).values(
                id=new_id.scalar_one() + 1, name="new", email="new@example.com"
            )
        )
        value = connection.execute(
            sa.select(status.c[COLUMN]).where(
                sa.column("email") == "new@example.com"
            )
        ).scalar_one()
        transaction.rollback()
    if value != DEFAULT:
        return (
            f"{COLUMN} を指定せずに追加した行の値が {value!r} です。"
            f"server_default={DEFAULT!r} にしてください。"
        )
    return None


@checker(SECTION)
def status_column(box: sandbox.Sandbox) -> Result:
    """The learner's revision adds ``users.status`` and takes it away."""
    files = learner_files(box)
    if not files:
        return failed(
            "まだ revision ファイルがありません。"
            "new_revision(exercise) で作ってから書き換えてください。",
            SECTION_FILE,
        )
    if len(files) > 1:
        names = ", ".join(p.name for p in files)
        return failed(
            f"新しい revision ファイルが {len(files)} 個あります ({names})。"
            "1 個だけ残してください。",
            SECTION_FILE,
        )
    (path,) = files
    problem = _static_problem(path)
    if problem:
        return failed(problem, SECTION_FILE)
    trial = sandbox.create(
        "alembic_first_steps_check", server=server_of(box), migrations=True
    )
    try:
        return _run_trial(trial, path)
    finally:
        trial.close()


def _run_trial(trial: sandbox.Sandbox, path: Path) -> Result:
    """Up, check, down, check, up again -- on a sandbox with data."""
    shutil.copy(path, trial.migrations / "versions" / path.name)
    head = kit_head()
    migrate.upgrade(trial, head)
    count = settings.scaled(200, 30)
    seed.users(trial.engine, count)
    before = _rows(trial.engine)
    where = f"({path.name}, {count} 行の users で実行)"
    try:
        migrate.upgrade(trial, "head")
    except MigrationError as error:
        return failed(f"upgrade が失敗しました {where}: {error}", SECTION)
    problem = _after_upgrade(trial.engine, before)
    if problem:
        return failed(f"{problem} {where}", SECTION)
    try:
        now = migrate.downgrade(trial, "-1")
    except MigrationError as error:
        return failed(f"downgrade が失敗しました {where}: {error}", SECTION)
    if now != (head,):
        return failed(f"downgrade -1 の後の revision が {now} です。", SECTION)
    if _status_column(trial.engine) is not None:
        return failed(
            f"downgrade の後も users.{COLUMN} 列が残っています。downgrade() "
            f"で列を削除してください {where}。",
            SECTION,
        )
    after = _rows(trial.engine)
    if after != before:
        return failed(
            f"downgrade で users の行が失われたか変わりました: {len(before)} "
            f"行 → {len(after)} 行 (rows lost) {where}。",
            SECTION,
        )
    try:
        migrate.upgrade(trial, "head")
    except MigrationError as error:
        return failed(
            f"downgrade の後、もう一度 upgrade すると失敗しました {where}: "
            f"{error}",
            SECTION,
        )
    return passed(
        f"{path.name}: upgrade → downgrade → upgrade が通りました。",
        f"{count} 行の users に {COLUMN} = {DEFAULT!r} が入り、"
        "downgrade で列だけが消えて行はそのまま残りました。",
    )
