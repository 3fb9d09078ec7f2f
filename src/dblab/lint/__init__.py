"""``dblab lint``: revision files checked for the lecture's anti-patterns
and for the locks and rewrites they cause on a database that has rows.

Each finding has a code, a file and line, one Japanese sentence, the
databases it applies to and the notebook section that teaches the fix
(:mod:`dblab.lint.rules`). A finding is waived in the revision file itself,
with a reason::

    # dblab-lint: ignore[MG201] backfill and ALTER belong together here

A waiver without a reason is a finding of its own (``LW001``).

The package: :mod:`~dblab.lint.rules` (the table), :mod:`~.source` and
:mod:`~.reader` (revision files read into ops, with :mod:`~.calls`,
:mod:`~.values` and :mod:`~.sqltext` for SQL strings), :mod:`~.checks`
(the rules), :mod:`~.state` and :mod:`~.chain` (the chain walked once),
:mod:`~.project` (folders, env.py, ``[tool.dblab.lint]``),
:mod:`~.output` (text, JSON, GitHub, baseline), :mod:`~.cli`.
"""

from dblab.lint.api import check_paths, lint
from dblab.lint.checks import Settings
from dblab.lint.cli import add_arguments, run
from dblab.lint.finding import Finding, LintError, Report
from dblab.lint.rules import PER_DATABASE, RULES, SUPPORTED, Rule
from dblab.lint.source import Revision, parse

__all__ = [
    "PER_DATABASE",
    "RULES",
    "SUPPORTED",
    "Finding",
    "LintError",
    "Report",
    "Revision",
    "Rule",
    "Settings",
    "add_arguments",
    "check_paths",
    "lint",
    "parse",
    "run",
]
