"""Checkers for notebook 08 (the five anti-patterns): the three exercises.

One module per exercise, each its scenario first, then its checker:

- :mod:`~dblab.checks.anti_patterns.backfill`: :func:`batched_backfill`;
- :mod:`~dblab.checks.anti_patterns.revision_split`:
  :func:`safe_revisions`;
- :mod:`~dblab.checks.anti_patterns.backup`: :func:`backup_restored`.
"""

from dblab.checks import write_revision
from dblab.checks.anti_patterns.backfill import (
    LATE_ROWS,
    MAX_BATCH,
    MIN_PAUSE,
    NULLABLE,
    SECTION_BATCH,
    backfill_rows,
    batched_backfill,
    prepare_backfill,
    reseed,
)
from dblab.checks.anti_patterns.backup import (
    CLEANUP_REVISION,
    DESTRUCTIVE_REVISION,
    SECTION_BACKUP,
    accident,
    backup_restored,
    prepare_backup,
)
from dblab.checks.anti_patterns.revision_split import (
    HEAD,
    SECTION_SAFE,
    TANGLED_REVISION,
    dedupe_names,
    prepare_revision,
    replace_revisions,
    safe_revisions,
)

__all__ = [
    "CLEANUP_REVISION",
    "DESTRUCTIVE_REVISION",
    "HEAD",
    "LATE_ROWS",
    "MAX_BATCH",
    "MIN_PAUSE",
    "NULLABLE",
    "SECTION_BACKUP",
    "SECTION_BATCH",
    "SECTION_SAFE",
    "TANGLED_REVISION",
    "accident",
    "backfill_rows",
    "backup_restored",
    "batched_backfill",
    "dedupe_names",
    "prepare_backfill",
    "prepare_backup",
    "prepare_revision",
    "replace_revisions",
    "reseed",
    "safe_revisions",
    "write_revision",
]
