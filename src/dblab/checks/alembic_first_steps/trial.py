"""What both exercises of notebook 05 share: the learner's one revision
file, read and vetted, then run on a fresh sandbox with data; the
revision's SQL rendered offline for another database."""

from __future__ import annotations

import importlib.util
import io
import shutil
import textwrap
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import URL

from dblab import migrate, sandbox, seed, settings
from dblab.checks import Result, failed, server_of

SECTION_FILE = "05_alembic_first_steps「revision -m でファイルを作る」"
MESSAGE = "add users status"
MARIADB = URL.create("mysql+pymysql")
POSTGRES = URL.create("postgresql+psycopg")


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


def load_revision(path: Path) -> tuple[object, str | None]:
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


def static_problem(path: Path) -> str | None:
    """What is wrong with the file before anything runs, if anything."""
    module, problem = load_revision(path)
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


def user_rows(engine: sa.Engine) -> list[dict]:
    """Every row of ``users`` by id, as ``{column: value}`` (a rebuilt
    table may list its columns in another order)."""
    users = sa.Table("users", sa.MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(users).order_by(users.c.id))
        return [dict(row._mapping) for row in rows]


def values_of(engine: sa.Engine, name: str) -> dict[int, object]:
    """``{id: value}`` of one column of ``users``."""
    users = sa.table("users", sa.column("id"), sa.column(name))
    with engine.connect() as connection:
        return dict(
            connection.execute(sa.select(users.c.id, users.c[name])).all()
        )


def column_of(engine: sa.Engine, name: str) -> dict | None:
    for column in sa.inspect(engine).get_columns("users"):
        if column["name"] == name:
            return column
    return None


def offline_sql(
    trial: sandbox.Sandbox, span: str, url: URL, *, down: bool = False
) -> tuple[str, str | None]:
    """The SQL of ``upgrade span --sql`` (or downgrade) for ``url``'s
    dialect, made without a server; or ``("", why not)``."""
    cfg = migrate.config(trial, url=url)
    cfg.attributes.pop("connection", None)
    cfg.output_buffer = buffer = io.StringIO()
    try:
        run = command.downgrade if down else command.upgrade
        run(cfg, span, sql=True)
    except Exception as error:  # noqa: BLE001 - the learner's file
        return "", f"{type(error).__name__}: {error}".splitlines()[0]
    return buffer.getvalue(), None


def one_file(box: sandbox.Sandbox) -> Path | Result:
    """The learner's one revision file, or why there is not one."""
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
    problem = static_problem(files[0])
    return failed(problem, SECTION_FILE) if problem else files[0]


def on_trial(box: sandbox.Sandbox, run) -> Result:
    """``run(trial, path)`` on a fresh sandbox holding the learner's file."""
    path = one_file(box)
    if isinstance(path, Result):
        return path
    trial = sandbox.create(
        "alembic_first_steps_check", server=server_of(box), migrations=True
    )
    try:
        shutil.copy(path, trial.migrations / "versions" / path.name)
        migrate.upgrade(trial, kit_head())
        seed.users(trial.engine, settings.scaled(200, 30))
        return run(trial, path)
    finally:
        trial.close()
