"""Alembic from Python, on a sandbox.

Every function drives Alembic's own ``command`` API with the sandbox's
engine handed to ``env.py`` through ``config.attributes["connection"]``,
the channel Alembic's cookbook documents. Errors a learner can cause (an
unknown revision, several heads, a revision that fails) come back as one
Japanese sentence in a :class:`~dblab.errors.MigrationError`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData
from sqlalchemy.engine import URL

from dblab import settings
from dblab.errors import MigrationError
from dblab.servers import KitDatabase


def config(
    sandbox: KitDatabase | None = None,
    *,
    script_location: Path | None = None,
    metadata: MetaData | None = None,
    url: URL | None = None,
) -> Config:
    """An Alembic ``Config`` for ``sandbox`` (the kit's ``alembic.ini``).

    The versions come from ``script_location``, else from the sandbox's
    private copy of ``migrations/`` if it has one, else from the kit's.
    """
    cfg = Config(str(settings.ALEMBIC_INI), stdout=io.StringIO())
    if script_location is None:
        private = None if sandbox is None else sandbox.folder / "migrations"
        if private is not None and private.exists():
            script_location = private  # a sandbox's or a target set's copy
        else:
            script_location = settings.MIGRATIONS
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["configure_logger"] = False
    if sandbox is not None:
        cfg.attributes["connection"] = sandbox.engine
        cfg.attributes["url"] = sandbox.url
    if url is not None:
        cfg.attributes["url"] = url
    if metadata is not None:
        cfg.attributes["target_metadata"] = metadata
    return cfg


def script(cfg: Config) -> ScriptDirectory:
    """The revision files Alembic sees for ``cfg``."""
    return ScriptDirectory.from_config(cfg)


@contextmanager
def _explained(sandbox: KitDatabase | None, action: str) -> Iterator[None]:
    """Turn Alembic's errors into one Japanese sentence."""
    try:
        yield
    except MigrationError:
        raise
    except CommandError as error:
        message = settings.mask(_explain(str(error), action))
        raise MigrationError(message) from None
    except Exception as error:
        where = ""
        if sandbox is not None:
            now = ", ".join(current(sandbox)) or "base"
            where = f"データベースは revision {now} のままです。"
        first = str(error).strip().splitlines()[0] if str(error) else ""
        first = settings.mask(first)
        raise MigrationError(
            f"{action} の途中でエラーになりました (migration failed): "
            f"{type(error).__name__}: {first}。{where}"
        ) from error


def _explain(message: str, action: str) -> str:
    if "Multiple head revisions" in message or "multiple heads" in message:
        return (
            f"{action}: head が複数あります (multiple heads)。"
            "`alembic merge heads` で 1 つにまとめるか、"
            "対象の head を名前で指定してください。"
        )
    if "unknown revision in the database" in message:
        return (
            f"{action}: {message} Python からは "
            "`migrate.stamp(sandbox, to=<revision>)` で記録を直せます。"
        )
    if "Can't locate revision" in message or "No such revision" in message:
        return (
            f"{action}: revision が見つかりません (unknown revision): "
            f"{message}。`alembic history` で ID を確かめてください。"
        )
    return f"{action}: {message}"


def upgrade(
    sandbox: KitDatabase, to: str = "head", **options: object
) -> tuple[str, ...]:
    """Upgrade to revision ``to``; return the revision(s) now current."""
    cfg = config(sandbox, **options)
    with _explained(sandbox, f"upgrade {to}"):
        command.upgrade(cfg, to)
    return current(sandbox)


def downgrade(
    sandbox: KitDatabase, to: str = "-1", **options: object
) -> tuple[str, ...]:
    """Downgrade to revision ``to``; return the revision(s) now current."""
    cfg = config(sandbox, **options)
    with _explained(sandbox, f"downgrade {to}"):
        command.downgrade(cfg, to)
    return current(sandbox)


def stamp(sandbox: KitDatabase, to: str, **options: object) -> None:
    """Record revision ``to`` as current without running any migration.

    A database that records a revision this versions folder does not
    have (``env.py`` refuses to run on it) is re-stamped directly: its
    ``alembic_version`` is emptied and ``to`` recorded, the way
    ``alembic stamp --purge`` does. ``config.attributes["stamping"]``
    tells ``env.py`` that this is a stamp.
    """
    cfg = config(sandbox, **options)
    cfg.attributes["stamping"] = True
    with _explained(sandbox, f"stamp {to}"):
        scripts = script(cfg)
        known = {rev.revision for rev in scripts.walk_revisions()}
        if set(current(sandbox)) <= known:
            command.stamp(cfg, to)
            return
        scripts.get_revision(to)  # an unknown ``to`` is explained
        with sandbox.engine.begin() as connection:
            connection.execute(sa.delete(sa.table("alembic_version")))
            context = MigrationContext.configure(connection)
            context.stamp(scripts, to)


def current(sandbox: KitDatabase) -> tuple[str, ...]:
    """The revision(s) recorded in the sandbox's ``alembic_version``."""
    with sandbox.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_heads()


def heads(
    sandbox: KitDatabase | None = None, **options: object
) -> tuple[str, ...]:
    """The head revision(s) of the versions folder."""
    return tuple(script(config(sandbox, **options)).get_heads())


def revisions(
    sandbox: KitDatabase | None = None, **options: object
) -> list[Script]:
    """All revisions, oldest first."""
    return list(
        reversed(list(script(config(sandbox, **options)).walk_revisions()))
    )


def offline_sql(
    sandbox: KitDatabase | None = None,
    revision_range: str = "base:head",
    *,
    url: URL | None = None,
    **options: object,
) -> str:
    """The SQL an upgrade over ``revision_range`` would run (``--sql``)."""
    cfg = config(sandbox, url=url, **options)
    cfg.attributes.pop("connection", None)
    buffer = io.StringIO()
    cfg.output_buffer = buffer
    with _explained(None, f"upgrade {revision_range} --sql"):
        command.upgrade(cfg, revision_range, sql=True)
    return buffer.getvalue()


def check(sandbox: KitDatabase, **options: object) -> str | None:
    """``alembic check``: None when the models match, else what differs."""
    cfg = config(sandbox, **options)
    try:
        command.check(cfg)
    except CommandError as error:
        return str(error)
    return None


def history(sandbox: KitDatabase | None = None, **options: object):
    """The revisions as a DataFrame, oldest first, marking what is applied."""
    import pandas as pd

    applied = _applied(sandbox, **options) if sandbox is not None else set()
    rows = []
    for rev in revisions(sandbox, **options):
        rows.append(
            {
                "revision": rev.revision,
                "down_revision": _join(rev.down_revision),
                "message": (rev.doc or "").splitlines()[0],
                "head": rev.is_head,
                **({"applied": rev.revision in applied} if sandbox else {}),
            }
        )
    return pd.DataFrame(rows)


def _join(value: str | tuple[str, ...] | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else ", ".join(value)


def _applied(sandbox: KitDatabase, **options: object) -> set[str]:
    """Every revision at or below the sandbox's current revision(s)."""
    scripts = script(config(sandbox, **options))
    done: set[str] = set()
    for head in current(sandbox):
        for rev in scripts.iterate_revisions(head, "base"):
            done.add(rev.revision)
    return done


def graph(sandbox: KitDatabase | None = None, **options: object):
    """The revision graph as a Mermaid flowchart: branches and merges show.

    Heads are drawn as stadiums; with a sandbox, applied revisions are
    filled and the current one is marked.
    """
    from dblab.schema import Mermaid

    applied = _applied(sandbox, **options) if sandbox is not None else set()
    now = set(current(sandbox)) if sandbox is not None else set()
    lines = ["flowchart BT"]
    for rev in revisions(sandbox, **options):
        message = (rev.doc or "").splitlines()[0].replace('"', "'")
        label = f"{rev.revision[:12]}<br/>{message[:40]}"
        if rev.revision in now:
            label += "<br/>(current)"
        shape = f'(["{label}"])' if rev.is_head else f'["{label}"]'
        lines.append(f"    r{rev.revision}{shape}")
        parents = rev.down_revision
        if isinstance(parents, str):
            parents = (parents,)
        for parent in parents or ():
            lines.append(f"    r{parent} --> r{rev.revision}")
    lines.append("    classDef applied fill:#d4edda,stroke:#2e7d32")
    for rev in sorted(applied):
        lines.append(f"    class r{rev} applied")
    return Mermaid("\n".join(lines))


SUM_FILE = "versions.sum"
"""Beside ``versions/``: one line per revision file and its hash."""


def _digest(path: Path) -> str:
    import hashlib

    data = path.read_bytes().replace(b"\r\n", b"\n")  # CRLF checkouts agree
    return hashlib.sha256(data).hexdigest()


def files_digest(paths: Iterable[Path]) -> str:
    """One sha256 over revision files, names and contents, in name order.

    The one hash of revision files in the kit: checksums, deploy's
    drift cache and its rehearsal records all use it (CRLF as LF).
    """
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.name):
        digest.update(f"{path.name}  {_digest(path)}\n".encode())
    return digest.hexdigest()


def _sum_path(versions: Path) -> Path:
    return versions.parent / SUM_FILE


def write_checksums(versions: Path) -> Path:
    """Record the hash of every revision file (accept the folder as is).

    The idea of Flyway's ``validate`` and Atlas's ``atlas.sum``: once a
    revision has been applied somewhere, editing it silently would make
    databases disagree about what that revision did.
    """
    lines = [
        f"{_digest(path)}  {path.name}"
        for path in sorted(versions.glob("*.py"))
        if path.name != "__init__.py"
    ]
    path = _sum_path(versions)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def verify_checksums(versions: Path) -> list[str]:
    """What differs from the recorded hashes (empty when nothing does)."""
    path = _sum_path(versions)
    if not path.exists():
        return [
            f"{SUM_FILE} がありません (no checksum file): "
            "migrate.write_checksums() で作ってください"
        ]
    recorded = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(None, 1)
            recorded[name.strip()] = digest
    present = {
        p.name: _digest(p)
        for p in versions.glob("*.py")
        if p.name != "__init__.py"
    }
    problems = []
    for name, digest in sorted(recorded.items()):
        if name not in present:
            problems.append(f"削除された (removed): {name}")
        elif present[name] != digest:
            problems.append(
                f"適用済みの revision が編集された (edited): {name}"
            )
    for name in sorted(present.keys() - recorded.keys()):
        problems.append(f"未記録の新しい revision (not recorded): {name}")
    return problems


def merge(
    sandbox: KitDatabase,
    message: str = "merge heads",
    *,
    rev_id: str | None = None,
    **options,
) -> str:
    """Create a merge revision of all heads; return its id.

    Alembic prints "Generating ..." to the real stdout; that line is kept
    out of the notebook, the returned id says what was made.
    """
    import contextlib

    cfg = config(sandbox, **options)
    if len(heads(sandbox, **options)) < 2:
        raise MigrationError(
            "head が 1 つなのでマージするものがありません (nothing to merge)"
        )
    with (
        _explained(None, "merge heads"),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        script_ = command.merge(cfg, "heads", message=message, rev_id=rev_id)
    return script_.revision
