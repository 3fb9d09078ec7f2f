"""``dblab bench``: the lecture's performance claims, measured here.

Shaped like SQLAlchemy's ``examples/performance``: a small harness
(:mod:`~dblab.bench.result`, :mod:`~dblab.bench.server`,
:mod:`~dblab.bench.timing`, :mod:`~dblab.bench.writer`), one module per
measurement section in :mod:`dblab.bench.sections` declaring its title,
columns, chart and ``measure()`` (see :mod:`dblab.bench.section`), the
:mod:`~dblab.bench.registry` that finds them, and
:mod:`~dblab.bench.report` (text, CSV, PNG). A new section is one new
module in ``sections/``; nothing else changes.

Every section runs on SQLite and on the servers named by
``DBLAB_POSTGRES_URL`` / ``DBLAB_MYSQL_URL``; every row names the
backend, the row count and the versions it ran on.
"""

from __future__ import annotations

from dblab.bench.command import add_arguments, run

__all__ = ["add_arguments", "run"]
