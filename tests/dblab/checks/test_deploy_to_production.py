"""Checkers of notebook 09, fed their solutions and plausible wrong answers.

Also: the CI example's ``run:`` lines are the commands the notebook runs.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.models import Address, User
from dblab import deploy, migrate, safety
from dblab.checks import deploy_to_production as dp

NOT_DONE = "まだ解答がありません"


def test_ci_file_runs_the_commands_the_notebook_runs() -> None:
    assert dp.ci_commands() == dp.CI_SETUP + dp.CI_COMMANDS
    notebook = (dp.CI_FILE.parents[2] / "notebooks").joinpath(
        "09_deploy_to_production.ipynb"
    )
    text = notebook.read_text(encoding="utf-8")
    assert "dp.CI_COMMANDS" in text and "dp.ci_commands()" in text
    argv = dp.local_argv(dp.CI_COMMANDS[-1])
    assert argv[1:] == ["-m", "dblab", "deploy", "--target", "staging"] + [
        "--dry-run"
    ]


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_risky_step(server, reused_targets) -> None:
    where = reused_targets(dp.prepare_plan, server)
    try:
        assert NOT_DONE in dp.risky_step(..., where).message
        result = dp.risky_step(dp.revision_id("DROP_AGE"), where)
        assert result.ok, result
        wrong = dp.risky_step(dp.revision_id("NICKNAME"), where)
        assert not wrong.ok and "データを消しません" in wrong.message
        assert wrong.section == dp.SECTION_PLAN
        wrong = dp.risky_step(dp.HEAD, where)  # applied, not pending
        assert not wrong.ok and "適用待ち" in wrong.message
    finally:
        where.close()


def restore(target, backup) -> None:
    safety.restore_in_place(backup, target)


def test_rollback_plan_solution(server, reused_targets) -> None:
    where = reused_targets(dp.prepare_rollback, server)
    try:
        result = dp.rollback_plan(restore, where)
        assert result.ok, result
    finally:
        where.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_rollback_plan_wrong_answers(server, reused_targets) -> None:
    where = reused_targets(dp.prepare_rollback, server)

    def downgrade_only(target, backup) -> None:  # noqa: ARG001
        migrate.downgrade(target, dp.revision_id("INDEX"), **where.options())

    try:
        assert NOT_DONE in dp.rollback_plan(..., where).message
        wrong = dp.rollback_plan(downgrade_only, where)
        assert not wrong.ok and "データが戻っていません" in wrong.message
        assert wrong.section == dp.SECTION_ROLLBACK
        restore(where["production"], newest_backup(where))
        wrong = dp.rollback_plan(lambda target, backup: None, where)
        assert not wrong.ok and "revision が" in wrong.message
        wrong = dp.rollback_plan(restore, where)  # left at DROP_AGE
        assert not wrong.ok and "作り直して" in wrong.message
    finally:
        where.close()


def newest_backup(where) -> safety.Backup:
    """The newest backup the checker took (the state before DROP_AGE)."""
    folder = where.folder / "backups"
    dumps = [p for p in folder.iterdir() if not p.name.endswith(".json")]
    return safety.Backup.open(max(dumps, key=lambda p: p.stat().st_mtime))


def rehearsed(where, queries) -> deploy.Rehearsal:
    """The rehearsal of production's pending revisions with ``queries``."""
    book = deploy.Runbook(where, app=deploy.App(queries=queries))
    return book.rehearse(book.plan())


BY_NAME = {"users_by_name": sa.select(User.id).where(User.name == "佐藤 蓮")}
BY_USER = {
    "addresses_of_user": sa.select(Address.id).where(Address.user_id == 7)
}


def test_caught_slow_query_solution(server, reused_targets) -> None:
    where = reused_targets(dp.prepare_slow_query, server)
    try:
        rehearsal = rehearsed(where, BY_NAME)
        result = dp.caught_slow_query(rehearsal, where)
        assert result.ok, result
        assert migrate.current(where["production"]) == (
            dp.revision_id("INDEX"),
        )
    finally:
        where.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # logic, not backend
def test_caught_slow_query_wrong_answers(server, reused_targets) -> None:
    where = reused_targets(dp.prepare_slow_query, server)
    try:
        assert NOT_DONE in dp.caught_slow_query(..., where).message
        missed = rehearsed(where, BY_USER)
        wrong = dp.caught_slow_query(missed, where)
        assert not wrong.ok and "見逃しました" in wrong.message
        assert wrong.section == dp.SECTION_REHEARSAL
        empty = rehearsed(where, {})
        wrong = dp.caught_slow_query(empty, where)
        assert not wrong.ok and "クエリがありません" in wrong.message
        wrong = dp.caught_slow_query("passed", where)
        assert not wrong.ok and "rehearse()" in wrong.message
    finally:
        where.close()
