"""Checkers for notebook 06 (split migrations), one module per exercise.

Exercise 1 (:mod:`.not_null`): ``users.email`` NOT NULL as a backfill
and an ALTER. Exercise 2 (:mod:`.expand_contract`): ``users.age`` →
``age_years`` as expand → migrate → contract. Both copy the learner's
revisions into a fresh sandbox with data and go up, down and up again.
"""

from dblab.checks import write_revision
from dblab.checks.split_migrations.expand_contract import (
    SECTION_RENAME,
    expand_contract,
    prepare_rename,
    seed_ages,
)
from dblab.checks.split_migrations.not_null import (
    BASE,
    SECTION,
    START,
    State,
    keep_only,
    prepare,
    read_chain,
    seed_users,
    split_not_null,
    state,
)

__all__ = [
    "BASE",
    "SECTION",
    "SECTION_RENAME",
    "START",
    "State",
    "expand_contract",
    "keep_only",
    "prepare",
    "prepare_rename",
    "read_chain",
    "seed_ages",
    "seed_users",
    "split_not_null",
    "state",
    "write_revision",
]
