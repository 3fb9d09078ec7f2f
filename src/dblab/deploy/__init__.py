"""``dblab deploy``: the production runbook for Alembic, step by step.

The chapter on moving a change to production, for a migration:

1. **preflight** -- the target exists, is not the staging database, is
   stamped at a revision the code knows and has not drifted from it
   (:mod:`~dblab.deploy.preflight`);
2. **plan** -- only the pending revisions, their offline SQL, ``dblab
   lint`` on them (:mod:`~dblab.deploy.plan`);
3. **rehearse** -- production is backed up and restored into staging
   (for another target or a dry run: into a throw-away sandbox); staging
   is upgraded, checked (revision, ``alembic check``, the app's models
   and queries, extra checks) and the EXPLAIN plans of named queries are
   compared before and after (:mod:`~dblab.deploy.rehearsal`,
   :mod:`~dblab.deploy.explain`); the result is recorded
   (:mod:`~dblab.deploy.records`);
4. **backup** -- the rehearsal's dump when the data has not changed
   since, else a new, verified backup;
5. **apply** -- refused without a successful rehearsal of the same
   revisions on the same data;
6. **verify** -- the target against the rehearsal;
7. **rollback** -- on request, to a named revision (after a backup).

:mod:`~dblab.deploy.runbook` coordinates the steps; what the app's
queries and models are comes from the caller (:class:`App`; the example
app's in :mod:`~dblab.deploy.example_app`).
"""

from dblab.deploy.cli import add_arguments, run
from dblab.deploy.explain import PlanChange, explain
from dblab.deploy.plan import Plan
from dblab.deploy.preflight import DeployError
from dblab.deploy.rehearsal import App, Rehearsal
from dblab.deploy.runbook import Report, Runbook, deploy

__all__ = [
    "App",
    "DeployError",
    "Plan",
    "PlanChange",
    "Rehearsal",
    "Report",
    "Runbook",
    "add_arguments",
    "deploy",
    "explain",
    "run",
]
