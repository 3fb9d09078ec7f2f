"""What a batched update reports: its batches, its result, its errors."""

from __future__ import annotations

from dataclasses import dataclass

from dblab.errors import DblabError


class BatchError(DblabError):
    """A batched update cannot start or cannot get its locks."""


@dataclass(frozen=True)
class Batch:
    """A committed batch, as handed to a ``progress`` callback."""

    number: int
    rows: int
    last_key: object
    total_rows: int


@dataclass(frozen=True)
class BackfillReport:
    """What a backfill did (this run only, plus where it resumed)."""

    job: str
    table: str
    rows: int
    batches: int
    seconds: float
    resumed_from: object = None
    last_key: object = None
    retries: int = 0

    def __str__(self) -> str:
        resumed = ""
        if self.resumed_from is not None:
            resumed = f"、{self.resumed_from!r} の次から再開 (resumed)"
        return (
            f"{self.table}: {self.rows} 行を {self.batches} バッチで更新 "
            f"({self.seconds:.2f} s{resumed}、再試行 {self.retries} 回)"
        )
