"""The chain walked once, from its roots to its heads.

Each revision is read once; the state of what the chain below it did is
handed from parent to child (copied only at a fork, merged at a merge), so
the walk is linear in the number of revisions. A single file is linted in
its folder's chain too, so a file and its folder get the same findings.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

from dblab.lint import checks, project
from dblab.lint.finding import Finding, LintError, Report, shown
from dblab.lint.project import layout
from dblab.lint.source import Revision, parse
from dblab.lint.state import ChainState


@dataclass
class Chain:
    """The revisions of one chain and how they link."""

    revisions: list[Revision]
    by_id: dict[str, Revision]
    children: dict[str, list[str]]
    errors: list[str]

    def order(self) -> list[Revision]:
        """Parents before children (Kahn); revisions in a cycle last."""
        waiting = {
            r.revision: sum(1 for d in r.down_revision if d in self.by_id)
            for r in self.revisions
            if r.revision
        }
        queue = deque(
            r for r in self.revisions if waiting.get(r.revision) == 0
        )
        ordered: list[Revision] = []
        while queue:
            revision = queue.popleft()
            ordered.append(revision)
            for child in self.children.get(revision.revision, []):
                waiting[child] -= 1
                if waiting[child] == 0:
                    queue.append(self.by_id[child])
        seen = {id(r) for r in ordered}
        return ordered + [r for r in self.revisions if id(r) not in seen]

    def descendants(self, revision: str) -> set[str]:
        found: set[str] = set()
        queue = deque(self.children.get(revision, []))
        while queue:
            current = queue.popleft()
            if current not in found:
                found.add(current)
                queue.extend(self.children.get(current, []))
        return found

    def heads_by_branch(self) -> list[list[str]]:
        """Heads grouped by branch label; a group of two or more is a fork."""
        labels: dict[str, tuple[str, ...]] = {}
        for revision in self.order():
            own = revision.branch_labels
            parents = [d for d in revision.down_revision if d in labels]
            labels[revision.revision or ""] = own or (
                labels[parents[0]] if parents else ()
            )
        groups: dict[tuple[str, ...], list[str]] = {}
        for revision in self.revisions:
            if revision.revision and not self.children.get(revision.revision):
                label = labels.get(revision.revision, ())
                groups.setdefault(label, []).append(revision.revision)
        return [sorted(g) for g in groups.values() if len(g) > 1]


def read_chain(files: list[Path], keep_errors: set[Path] | None) -> Chain:
    """Parse ``files``; errors kept for all, or only for ``keep_errors``."""
    revisions, errors = [], []
    for path in files:
        try:
            revision = parse(path)
        except LintError as error:
            if keep_errors is None or path.resolve() in keep_errors:
                errors.append(str(error))
            continue
        if revision.revision is not None:
            revisions.append(revision)
    by_id: dict[str, Revision] = {}
    children: dict[str, list[str]] = {}
    for revision in revisions:
        if revision.revision in by_id:
            errors.append(
                f"{shown(revision.path)}: revision {revision.revision!r} が"
                f" {shown(by_id[revision.revision].path)} と重複しています "
                "(duplicate revision id)"
            )
            continue
        by_id[revision.revision] = revision
    for revision in by_id.values():
        for down in revision.down_revision:
            children.setdefault(down, []).append(revision.revision)
    return Chain(list(by_id.values()), by_id, children, errors)


def walk(
    chain: Chain,
    settings: checks.Settings,
    report: set[str] | None = None,
    errors: list[str] | None = None,
) -> list[Finding]:
    """Lint every revision of ``chain`` (findings kept for ``report``)."""
    states: dict[str, ChainState] = {}
    found: list[Finding] = []
    errors = [] if errors is None else errors
    for revision in chain.order():
        parents = [d for d in revision.down_revision if d in states]
        if len(parents) == 1 and len(chain.children.get(parents[0], [])) == 1:
            state = states.pop(parents[0])  # a straight line: hand it on
        else:
            state = ChainState.merged([states[p] for p in parents])
        try:
            if report is None or revision.revision in report:
                found += checks.check(revision, state, settings)
            state.apply(revision.ops)
        except Exception as error:  # noqa: BLE001 - one file, not the run
            errors.append(internal_error(revision.path, error))
        states[revision.revision] = state
    return found


def internal_error(path: Path, error: Exception) -> str:
    return (
        f"{shown(path)}: このファイルを読めませんでした (internal error: "
        f"{type(error).__name__}: {error})。dblab に報告してください"
    )


def versions_folder(path: Path) -> Path:
    """The versions folder of ``path``: itself, or that of the script
    location ``path`` is, or that its ``alembic.ini`` names."""
    script = project.script_location(path / "alembic.ini")
    if script is not None:
        path = script
    if (path / "versions").is_dir() and (path / "env.py").is_file():
        return path / "versions"
    return path


def lint_path(
    path: Path,
    settings: checks.Settings,
    since: str | None = None,
) -> Report:
    """Lint one revision file or a whole versions folder."""
    if not path.exists():
        raise LintError(
            f"{path}: ファイルもフォルダも見つかりません (not found)"
        )
    single = path.is_file()
    if single and path.suffix != ".py":
        raise LintError(
            f"{shown(path)}: revision ファイル (.py) ではありません "
            "(not a revision file)"
        )
    folder = path.parent if single else versions_folder(path)
    where = layout(folder)
    settings = checks.Settings(
        settings.dialects,
        settings.disabled,
        settings.timeouts | where.timeouts,
        settings.downgrades and where.downgrades,
    )
    files = where.files
    target = path.resolve()
    if single and target not in files:
        files = [*files, target]
    chain = read_chain(files, {target} if single else None)
    report = Report(errors=list(chain.errors))
    if single:
        keep = {
            r.revision for r in chain.revisions if r.path.resolve() == target
        }
        if not keep and not report.errors:
            raise LintError(
                f"{shown(path)}: revision ファイルではありません (no "
                "`revision = ...` in it)"
            )
    else:
        if not chain.revisions and not report.errors:
            raise LintError(
                f"{shown(path)}: revision ファイルがありません "
                "(not a versions folder)。migrations/versions のような"
                "フォルダを指定してください"
            )
        report.errors += _broken_links(chain)
        keep = None
    if since is not None:
        if since not in chain.by_id:
            raise LintError(
                f"--since {since}: その revision がありません "
                "(unknown revision)"
            )
        after = chain.descendants(since)
        keep = after if keep is None else keep & after
    report.findings = walk(chain, settings, keep, report.errors)
    if not single:
        report.findings += _forks(chain, path, settings)
    return report.sort()


def _broken_links(chain: Chain) -> list[str]:
    return [
        f"{shown(revision.path)}: down_revision {down!r} の revision がこの"
        "フォルダにありません (broken chain)。ID の書き間違いか、"
        "ファイルの入れ忘れです"
        for revision in chain.revisions
        for down in revision.down_revision
        if down not in chain.by_id
    ]


def _forks(
    chain: Chain, path: Path, settings: checks.Settings
) -> list[Finding]:
    if "MG301" in settings.disabled:
        return []
    return [
        Finding("MG301", path, 1, ", ".join(group))
        for group in chain.heads_by_branch()
    ]
