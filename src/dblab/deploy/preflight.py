"""Preflight: may the runbook touch this target at all?

The target exists, is not the staging database (by the server's identity
and the targets' identity rows: :mod:`dblab.deploy.identity`), is stamped
at a revision the code knows, and has not drifted from the schema of that
revision.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL

from dblab import migrate, schema, settings, targets
from dblab import sandbox as sandboxes
from dblab.deploy import identity
from dblab.errors import DblabError


class DeployError(DblabError):
    """The runbook stopped (one Japanese line says why)."""


_REFERENCES: dict[tuple, schema.Snapshot] = {}
"""Expected schemas by (server, revision, versions hash): see drift()."""


def check_target(
    where: targets.Targets, name: str
) -> tuple[tuple[str, ...], list[str]]:
    """Stop with one line if ``name`` cannot be deployed to.

    Returns its revision and the targets that have no identity row (made
    by an older kit: told apart by the server's identity alone).
    """
    missing = check_identity(where, name)
    target = where[name]
    if not where.exists(name):
        raise DeployError(
            f"ターゲット {name} のデータベースがありません "
            f"({shown(target.url)})。先に `dblab deploy --prepare` で"
            "作ってください (target database missing)"
        )
    current = migrate.current(target)
    scripts = migrate.script(migrate.config(**where.options()))
    known = {s.revision for s in scripts.walk_revisions()}
    unknown = [rev for rev in current if rev not in known]
    if unknown:
        raise DeployError(
            f"{name} は revision {', '.join(unknown)} を記録して"
            "いますが、versions/ にありません。誰かが別のコードで"
            "適用したか記録を書き換えています (unknown revision "
            "stamped)。中止しました"
        )
    found = drift(where, target, current)
    if found:
        raise DeployError(
            f"{name} のスキーマが revision "
            f"{', '.join(current) or 'base'} の定義と違います "
            f"(drifted): {'; '.join(found)}。手作業の変更を調べて"
            "から流してください"
        )
    return current, missing


def check_identity(where: targets.Targets, name: str) -> list[str]:
    """Refuse one database as production and staging, or a target URL
    that reaches another environment's database; the rowless targets."""
    found = [identity.seen(where, "production")]
    for other in dict.fromkeys(("staging", name)):
        if other != "production":
            found.append(identity.seen(where, other))
    problem = identity.refusal(*found)
    if problem:
        raise DeployError(f"{problem}: {shown(found[0].url)}")
    return identity.missing_rows(*found)


def drift(
    where: targets.Targets, target: targets.Target, current: tuple[str, ...]
) -> list[str]:
    """Schema differences between the target and its revision.

    The expected schema comes from a scratch database upgraded to the
    same revision on the same server; it is remembered per server,
    revision and versions folder content, for the next preflight.
    """
    server = target.server or URL.create("sqlite")
    versions = where.migrations / "versions"
    key = (
        server.render_as_string(hide_password=False),
        current,
        migrate.files_digest(versions.glob("*.py")),
    )
    expected = _REFERENCES.get(key)
    if expected is None:
        reference = sandboxes.create("drift_reference", server=server)
        try:
            for revision in current:
                migrate.upgrade(reference, revision, **where.options())
            expected = schema.snapshot(reference.engine, count_rows=False)
        finally:
            reference.close()
        _REFERENCES[key] = expected
    actual = schema.snapshot(target.engine, count_rows=False)
    return schema.diff(expected, actual).changes


def shown(url: URL) -> str:
    """A database as the report names it (no password)."""
    if url.get_backend_name() == "sqlite":
        return Path(url.database or "").name
    return f"{url.database} @ {settings.describe(url)}"
