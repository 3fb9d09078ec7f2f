"""Backups proven by restoring them, and an upgrade that restores on failure.

The notebooks use the names below (``safety.fingerprint``,
``safety.backup``, ``safety.guarded_upgrade``, ...); each lives in one
module of the package:

- :mod:`~dblab.safety.fingerprints`: row counts and checksums per table;
- :mod:`~dblab.safety.backups`: a dump and its manifest;
- :mod:`~dblab.safety.restores`: restore into a new database, over the
  original, into another one; verify a backup by restoring it;
- :mod:`~dblab.safety.tools`: ``pg_dump`` / ``mariadb-dump`` and friends;
- :mod:`~dblab.safety.health`: the checks after a change (integrity, a
  caller's check), shared with :mod:`dblab.deploy`;
- :mod:`~dblab.safety.guard`: the guarded upgrade.
"""

from dblab.safety.backups import Backup, backup, manifest_path
from dblab.safety.databases import BackupError, Database
from dblab.safety.fingerprints import (
    Fingerprint,
    TableFingerprint,
    fingerprint,
)
from dblab.safety.guard import GuardError, GuardReport, guarded_upgrade
from dblab.safety.restores import (
    Verification,
    copy_into,
    restore,
    restore_in_place,
    verify_backup,
)
from dblab.safety.tools import Tools

__all__ = [
    "Backup",
    "BackupError",
    "Database",
    "Fingerprint",
    "GuardError",
    "GuardReport",
    "TableFingerprint",
    "Tools",
    "Verification",
    "backup",
    "copy_into",
    "fingerprint",
    "guarded_upgrade",
    "manifest_path",
    "restore",
    "restore_in_place",
    "verify_backup",
]
