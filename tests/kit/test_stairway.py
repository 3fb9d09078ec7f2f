"""The stairway test of the kit's chain: each revision up, down, up again.

pytest-alembic's ``test_up_down_consistency`` goes all the way up, then
all the way down; this walks one step at a time
(``alembic_runner.roundtrip_next_revision``) and compares the schema: a
downgrade must give back the schema of the revision below, and the second
upgrade the same schema as the first. ``docs/ci/migrations.yml`` runs it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dblab import revisions, schema


def walk(runner, engine: sa.Engine) -> list[str]:
    """Each revision from base: up, down (schema as below), up (as before)."""

    def shape():
        return schema.snapshot(engine, count_rows=False)

    walked = []
    below = shape()
    while (step := runner.migrate_up_one()) is not None:
        up = shape()
        runner.migrate_down_one()
        assert not schema.diff(below, shape()), f"down of {step}"
        runner.migrate_up_one()
        assert not schema.diff(up, shape()), f"second up of {step}"
        walked.append(step)
        below = up
    return walked


def test_stairway_up_down_up_each_revision(alembic_runner, sandbox) -> None:
    assert walk(alembic_runner, sandbox.engine) == list(revisions.CHAIN)


@pytest.mark.parametrize("backend", ["sqlite"])  # the test of the test
def test_stairway_finds_a_downgrade_that_leaves_an_index(
    alembic_runner, sandbox, add_revision
) -> None:
    add_revision(sandbox, 'op.create_index("ix_users_age", "users", ["age"])')
    alembic_runner.refresh_history()
    with pytest.raises(AssertionError, match="down of 0badf00d0001"):
        walk(alembic_runner, sandbox.engine)
