"""The three exercises of notebook 09, each a scenario and its checker.

1. :func:`named_regression`: read EXPLAIN before and after a pending
   revision and name the query that became a full scan (checked against
   the plans a rehearsal takes on a real copy of production).
2. :func:`safe_index`: write an index revision in its safe form (linted
   for every server, run on a copy, index valid, writes not blocked).
3. :func:`incident_answer`: decide rollback or roll-forward for a failed
   deploy and hand in the command or revision; it is run on a copy and
   must keep the data written since the deploy.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from dblab import deploy, lint, migrate, safety, settings, targets
from dblab.checks import Result, checker, failed, passed
from dblab.checks.deploy_to_production import locks
from dblab.checks.deploy_to_production.scenarios import (
    SECTION_REHEARSAL,
    SECTION_ROLLBACK,
    add_revision,
    make_targets,
    revision_id,
)
from dblab.deploy import example_app

SECTION_SAFE_INDEX = (
    "09_deploy_to_production「書き込みを止めないインデックス (CONCURRENTLY)」"
)
EX2_REVISION = "9a1e0c3d5b21"
EX3_REVISION = "9a1e0c3d5b32"
SCAN_MARKS = {"sqlite": "SCAN ", "postgresql": "Seq Scan", "mysql": ": ALL"}


def _small(server, reuse, *revisions: str) -> targets.Targets:
    reuse = getattr(reuse, "where", reuse)  # an Incident holds targets
    return make_targets(
        server,
        revisions=("INDEX_SAFE", *revisions),
        users=settings.scaled(300, 60),
        reuse=reuse,
    )


def _copy_production(where: targets.Targets) -> targets.Target:
    """Staging, refilled from a fresh backup of production."""
    item = safety.backup(where["production"], where.folder / "backups")
    safety.copy_into(item, where["staging"])
    return where["staging"]


# --- exercise 1: name the regression --------------------------------


def ex1_queries() -> dict[str, sa.Select]:
    """The app's queries of exercise 1 (the age filter is new)."""
    from app.models import User

    return {
        **example_app.queries(),
        "users_of_age": sa.select(User.id).where(User.age == 30),
    }


def prepare_regression(
    server: URL | None = None, *, reuse: targets.Targets | None = None
) -> targets.Targets:
    """Production at INDEX; AGE_FOR_NAME (add one index, drop one)."""
    where = _small(server, reuse)
    add_revision(where, "AGE_FOR_NAME")
    return where


def _plans(where: targets.Targets) -> dict[str, deploy.PlanChange]:
    book = deploy.Runbook(where, app=deploy.App(queries=ex1_queries()))
    rehearsal = book.rehearse(book.plan())
    return {change.query: change for change in rehearsal.plans}


def _norm(text: object) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().lower()


@checker(SECTION_REHEARSAL)
def named_regression(answer: dict, where: targets.Targets) -> Result:
    """``answer``: {"query", "before", "after"}; plans taken afresh."""
    if not isinstance(answer, dict) or not {"query", "before", "after"} <= set(
        answer
    ):
        return failed(
            '{"query": ..., "before": ..., "after": ...} の辞書で答えて'
            "ください (a dict with query, before, after)。",
            SECTION_REHEARSAL,
        )
    plans = _plans(where)
    change = plans.get(str(answer["query"]))
    if change is None:
        return failed(
            f"{answer['query']!r} というクエリはありません。"
            f"比べたのは {', '.join(plans)} です (unknown query)。",
            SECTION_REHEARSAL,
        )
    if not change.regressed:
        how = "速くなった" if change.full_scan_before else "全件走査にならない"
        return failed(
            f"{change.query} は{how}クエリです (not the regression): "
            f"before「{change.before}」→ after「{change.after}」。"
            "インデックスを使っていたのに全件走査になったクエリを探して"
            "ください。",
            SECTION_REHEARSAL,
        )
    before, after = _norm(answer["before"]), _norm(answer["after"])
    scan = SCAN_MARKS[where.backend].lower()
    if not after or after not in _norm(change.after):
        return failed(
            f"after「{answer['after']}」は、upgrade 後の実際の計画に"
            f"ありません (not in the real plan): {change.after}",
            SECTION_REHEARSAL,
        )
    if scan not in after:
        return failed(
            f"after「{answer['after']}」はインデックスを使う節です。"
            "遅くなった原因の、全件走査の節を書いてください "
            "(name the full-scan node)。",
            SECTION_REHEARSAL,
        )
    if not before or before not in _norm(change.before) or scan in before:
        return failed(
            f"before「{answer['before']}」は、upgrade 前にインデックスを"
            f"使っていた節ではありません (before: {change.before})。",
            SECTION_REHEARSAL,
        )
    return passed(
        f"{change.query} が回帰 (regression) です。",
        f"before: {change.before}",
        f"after:  {change.after}",
    )


# --- exercise 2: the safe index revision ----------------------------


EX2_HEADER = (
    '"""index addresses.email_address for the support search\n\n'
    f'Revision ID: {EX2_REVISION}\n"""\n\n'
    "import sqlalchemy as sa\nfrom alembic import op\n\n"
    f'revision = "{EX2_REVISION}"\n'
    f'down_revision = "{revision_id("INDEX")}"\n'
    "branch_labels = None\ndepends_on = None\n\n\n"
)
"""The first lines of exercise 2's revision (the learner adds the rest)."""


def prepare_safe_index(
    server: URL | None = None, *, reuse: targets.Targets | None = None
) -> targets.Targets:
    """Production at INDEX with seeded addresses; nothing pending."""
    return _small(server, reuse)


def _index_on(engine: sa.Engine) -> list[str]:
    return [
        index["name"]
        for index in sa.inspect(engine).get_indexes("addresses")
        if index["column_names"] == ["email_address"]
    ]


def _upgrade_watched(copy: targets.Target, options) -> locks.LockFact | None:
    """Upgrade ``copy``; on PostgreSQL, while a writer's transaction is
    open, and return what the build held."""
    if copy.backend != "postgresql":
        migrate.upgrade(copy, "heads", **options)
        return None
    return locks.while_a_writer_is_open(
        copy.engine,
        lambda: migrate.upgrade(copy, "heads", **options),
        "addresses",
    )


@checker(SECTION_SAFE_INDEX)
def safe_index(text: str, where: targets.Targets) -> Result:
    """``text``: a revision file adding the index without blocking."""
    path = where.migrations / "versions" / f"{EX2_REVISION}_learner.py"
    path.write_text(str(text), encoding="utf-8")
    try:
        return _judge_index(path, where)
    finally:
        path.unlink(missing_ok=True)
        where["staging"].engine.dispose()


def _judge_index(path: Path, where: targets.Targets) -> Result:
    found = lint.lint(path, dialects=["postgresql", "mysql", "sqlite"])
    codes = {f.code for f in found}
    if "LK101" in codes:
        return failed(
            "CONCURRENTLY なしの CREATE INDEX です。PostgreSQL では作り終わる"
            "まで addresses への書き込みが止まります (LK101: plain CREATE "
            "INDEX blocks writes)。",
            SECTION_SAFE_INDEX,
        )
    if "MF105" in codes:
        return failed(
            "postgresql_concurrently=True が autocommit_block() の外です。"
            "CONCURRENTLY はトランザクションの中では実行できません "
            "(MF105: outside autocommit_block)。",
            SECTION_SAFE_INDEX,
        )
    if found:
        return failed(
            "lint の指摘があります (lint findings): "
            + "; ".join(f"{f.code} {f.message}" for f in found),
            SECTION_SAFE_INDEX,
        )
    copy = _copy_production(where)
    fact = _upgrade_watched(copy, where.options())
    made = _index_on(copy.engine)
    now = migrate.current(copy)
    if now != (EX2_REVISION,):
        return failed(
            f"upgrade 後の revision が {', '.join(now) or 'base'} です。"
            f"dp.EX2_HEADER の revision ID ({EX2_REVISION}) と down_revision"
            " のまま使ってください (wrong revision id)。",
            SECTION_SAFE_INDEX,
        )
    if not made:
        return failed(
            "upgrade 後に addresses.email_address のインデックスがありません "
            "(no index on addresses.email_address)。",
            SECTION_SAFE_INDEX,
        )
    details = [f"インデックス {made[0]} (addresses.email_address)"]
    if copy.backend == "postgresql":
        if locks.invalid_indexes(copy.engine, "addresses"):
            return failed(
                "INVALID のインデックスが残っています (invalid index)。",
                SECTION_SAFE_INDEX,
            )
        if fact is not None and fact.blocks_writes:
            return failed(
                f"作っている間、書き込みが待たされました ({fact.modes}; "
                "writes blocked)。",
                SECTION_SAFE_INDEX,
            )
        details.append(f"作成中のロック: {', '.join(fact.modes)}; 書き込み OK")
    migrate.downgrade(copy, revision_id("INDEX"), **where.options())
    if _index_on(copy.engine):
        return failed(
            "downgrade の後もインデックスが残っています (downgrade left it)。",
            SECTION_SAFE_INDEX,
        )
    return passed(
        "lint は指摘なし、本番のコピーで upgrade → downgrade できました。",
        *details,
    )


# --- exercise 3: rollback or roll-forward ---------------------------


@dataclass
class Incident:
    """A deploy that went wrong, and what happened since."""

    where: targets.Targets
    backup: Path  # taken just before the deploy
    error: str  # what the old app's INSERT now gets
    written: dict[int, str] = field(default_factory=dict)  # id → nickname

    def drop(self) -> None:
        self.where.drop()

    def close(self) -> None:
        self.where.close()


OLD_APP_INSERT = "INSERT INTO users (name, email) VALUES (:name, :email)"
NEW_APP_INSERT = (
    "INSERT INTO users (name, email, nickname)"
    " VALUES (:name, :email, :nickname)"
)


def old_app_error(engine: sa.Engine) -> str | None:
    """What the old app's INSERT gets (None: it works); rolled back."""
    with engine.connect() as connection:
        try:
            connection.execute(
                sa.text(OLD_APP_INSERT),
                {"name": "古い アプリ", "email": "old.app@example.com"},
            )
        except sa.exc.DBAPIError as error:
            return str(error.orig).splitlines()[0]
        finally:
            connection.rollback()
    return None


def prepare_incident(
    server: URL | None = None, *, reuse: targets.Targets | None = None
) -> Incident:
    """NICKNAME_REQUIRED deployed; the new app wrote rows since; the old
    app (still running on some servers) fails to insert."""
    where = _small(server, reuse)
    production = where["production"]
    item = safety.backup(production, where.folder / "backups")
    add_revision(where, "NICKNAME_REQUIRED")
    migrate.upgrade(production, "heads", **where.options())
    written = {}
    with production.engine.begin() as connection:
        for n in range(5):
            row = {
                "name": f"新 アプリ{n}",
                "email": f"new.app.{n}@example.com",
                "nickname": f"nick{n}",
            }
            connection.execute(sa.text(NEW_APP_INSERT), row)
        for key, nick in connection.execute(
            sa.text("SELECT id, nickname FROM users WHERE nickname <> ''")
        ):
            written[key] = nick
    error = old_app_error(production.engine) or ""
    production.engine.dispose()
    return Incident(where, item.path, error, written)


def _apply(answer: dict, incident: Incident, copy) -> Result | None:
    """Carry out ``answer`` on ``copy``; a Result when it cannot."""
    where = incident.where
    decision = answer.get("decision")
    if decision == "roll-forward":
        text = answer.get("revision")
        if not isinstance(text, str) or "def upgrade" not in text:
            return failed(
                "roll-forward なら、前に進めて直す revision の全文を "
                '"revision" に入れてください (no revision given)。',
                SECTION_ROLLBACK,
            )
        path = where.migrations / "versions" / f"{EX3_REVISION}_fix.py"
        path.write_text(text, encoding="utf-8")
        try:
            migrate.upgrade(copy, "heads", **where.options())
        finally:
            path.unlink()
        return None
    words = shlex.split(str(answer.get("command", "")))
    if decision != "rollback" or not words:
        return failed(
            '"decision" は "rollback" か "roll-forward" です。rollback なら'
            ' "command" に実行するコマンドを入れてください。',
            SECTION_ROLLBACK,
        )
    if "downgrade" in words:
        to = words[words.index("downgrade") + 1]
        migrate.downgrade(copy, to, **where.options())
    elif "--restore" in words:
        safety.copy_into(words[words.index("--restore") + 1], copy)
    else:
        return failed(
            "このコマンドは実行できません (unknown command): "
            f"{' '.join(words)}"
            "。alembic downgrade か dblab deploy --restore です。",
            SECTION_ROLLBACK,
        )
    return None


def _kept(engine: sa.Engine, written: dict[int, str]) -> tuple[int, bool]:
    """How many rows written since the deploy survive; nicknames kept?"""
    names = {c["name"] for c in sa.inspect(engine).get_columns("users")}
    with engine.connect() as connection:
        ids = sa.bindparam("ids", list(written), expanding=True)
        if "nickname" not in names:
            query = sa.text("SELECT id FROM users WHERE id IN :ids")
            return len(connection.execute(query.bindparams(ids)).all()), False
        query = sa.text("SELECT id, nickname FROM users WHERE id IN :ids")
        rows = dict(connection.execute(query.bindparams(ids)).all())
    return len(rows), rows == written


@checker(SECTION_ROLLBACK)
def incident_answer(answer: dict, incident: Incident) -> Result:
    """Run the learner's decision on a copy of production and judge it."""
    if not isinstance(answer, dict) or "decision" not in answer:
        return failed(
            '{"decision": "rollback" か "roll-forward", ...} の辞書で答えて'
            "ください (a dict with decision)。",
            SECTION_ROLLBACK,
        )
    copy = _copy_production(incident.where)
    try:
        problem = _apply(answer, incident, copy)
        if problem is not None:
            return problem
        survived, nicknames = _kept(copy.engine, incident.written)
        still = old_app_error(copy.engine)
    finally:
        copy.engine.dispose()
    lost = len(incident.written)
    if survived < lost:
        return failed(
            f"デプロイ後に書かれた {lost} 行のうち {lost - survived} 行が"
            "消えました。バックアップからの復元は、その後の書き込みを"
            "すべて捨てます (restore loses data written since)。",
            SECTION_ROLLBACK,
        )
    if not nicknames:
        return failed(
            f"デプロイ後に書かれた {lost} 件の nickname が消えました。"
            "downgrade (や列の削除) は列ごと値を捨てます (dropping the "
            "column drops its data)。",
            SECTION_ROLLBACK,
        )
    if still:
        return failed(
            f"古いアプリの INSERT はまだ失敗します (still failing): {still}",
            SECTION_ROLLBACK,
        )
    return passed(
        f"{answer['decision']}: 古いアプリの INSERT が通り、デプロイ後の "
        f"{lost} 行と nickname も残りました。"
    )
