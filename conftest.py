"""Session-wide settings of the test run, for tests/ and notebooks/ alike.

Loaded first (it sits at the root), so the notebook kernels nbval starts
inherit ``DBLAB_SCALE=test`` even when only ``notebooks/`` is collected.
``tests/skip_summary.py`` replaces the list of skipped tests with one line
per thing the run left out.
"""

from __future__ import annotations

import os

os.environ.setdefault("DBLAB_SCALE", "test")
# The kit's own runs (and the kernels nbval starts) never mark a
# learner's exercises done in the work folder.
os.environ.setdefault("DBLAB_PROGRESS", "off")

pytest_plugins = ["tests.skip_summary"]
