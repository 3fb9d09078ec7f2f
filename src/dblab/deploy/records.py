"""Rehearsal records: which plan was rehearsed, on what, with what result.

One JSON file (``<work>/targets/<prefix>/rehearsals.json``) maps a key --
target, the state the rehearsal started from, the revision range and the
hash of the pending revision files -- to what the rehearsal showed, with
the row counts it was rehearsed on. The apply step looks its plan up
here and refuses without a success.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from dblab.deploy.plan import Plan
from dblab.deploy.rehearsal import Rehearsal
from dblab.safety import Backup


def state_digest(data: object) -> str:
    """A short hash of JSON-serializable ``data`` (what a key is built on)."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Records:
    """The rehearsal records of one set of targets."""

    path: Path

    @staticmethod
    def key(target: str, state: str, plan: Plan) -> str:
        return f"{target}|{state}|{plan.range}|{plan.files_hash}"

    def read(self) -> dict[str, dict]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def save(
        self, key: str, rehearsal: Rehearsal, backup: Backup | None
    ) -> None:
        """Record ``rehearsal`` under ``key`` (written atomically)."""
        records = self.read()
        records[key] = {
            "ok": rehearsal.ok,
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "backup": str(backup.path) if backup else None,
            # The data size it was rehearsed on (validity is not keyed
            # to the data, which moves on a database in use).
            "rows": {
                name: found.rows
                for name, found in (rehearsal.before or {}).items()
            },
            "changed_tables": rehearsal.changed_tables,
            "schema_changes": rehearsal.schema_changes,
            "after": rehearsal.after.to_json() if rehearsal.after else None,
            "problems": rehearsal.problems,
        }
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(
            json.dumps(records, ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8",
        )
        partial.replace(self.path)

    def successful(self, key: str) -> dict | None:
        """The record under ``key`` if that rehearsal succeeded."""
        found = self.read().get(key)
        return found if found and found.get("ok") else None
