"""Scenarios and checkers of notebook 09 (deploying to production).

- :mod:`~dblab.checks.deploy_to_production.scenarios`: the targets, the
  prepared revisions, the CI example's commands;
- :mod:`~dblab.checks.deploy_to_production.locks`: lock facts of an
  index build seen from a second connection;
- :mod:`~dblab.checks.deploy_to_production.exercises`: the three
  exercises (scenario and checker each).
"""

from dblab.checks.deploy_to_production.exercises import (
    EX2_HEADER,
    EX2_REVISION,
    EX3_REVISION,
    SECTION_SAFE_INDEX,
    Incident,
    ex1_queries,
    incident_answer,
    named_regression,
    old_app_error,
    prepare_incident,
    prepare_regression,
    prepare_safe_index,
    safe_index,
)
from dblab.checks.deploy_to_production.scenarios import (
    CI_COMMANDS,
    CI_FILE,
    CI_SETUP,
    HEAD,
    REVISIONS,
    SECTION_PLAN,
    SECTION_REHEARSAL,
    SECTION_ROLLBACK,
    add_revision,
    app,
    ci_commands,
    local_argv,
    make_targets,
    metadata_with_index,
    revision_id,
)

__all__ = [
    "CI_COMMANDS",
    "CI_FILE",
    "CI_SETUP",
    "EX2_HEADER",
    "EX2_REVISION",
    "EX3_REVISION",
    "HEAD",
    "REVISIONS",
    "SECTION_PLAN",
    "SECTION_REHEARSAL",
    "SECTION_ROLLBACK",
    "SECTION_SAFE_INDEX",
    "Incident",
    "add_revision",
    "app",
    "ci_commands",
    "ex1_queries",
    "incident_answer",
    "local_argv",
    "make_targets",
    "metadata_with_index",
    "named_regression",
    "old_app_error",
    "prepare_incident",
    "prepare_regression",
    "prepare_safe_index",
    "revision_id",
    "safe_index",
]
