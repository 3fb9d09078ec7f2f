"""``dblab bench`` at tiny sizes: the structure of its table, CSV and PNG
on every backend (the figures themselves are printed, never asserted)."""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from dblab import bench, cli

LABELS = {"sqlite": {"SQLite"}, "postgresql": {"PostgreSQL"}}
LABELS["mysql"] = {"MariaDB", "MySQL"}
HAVE_BATCHING = importlib.util.find_spec("dblab.batching") is not None


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_sizes_parse() -> None:
    assert bench._parse_sizes("10k, 100_000,1M") == (10_000, 100_000, 10**6)
    with pytest.raises(argparse.ArgumentTypeError):
        bench._parse_sizes("many")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["bench", "--sections", "inserts,speed"])
    assert stopped.value.code == 2


def test_bench_table_csv_png(
    backend: str,
    server: sa.URL,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sizes = (40, 90) if backend == "sqlite" else (40,)
    out = tmp_path / "bench.csv"
    argv = [
        "bench",
        "--backends",
        backend,
        "--sizes",
        ",".join(map(str, sizes)),
        "--orm-max",
        "50",
        "--batch-size",
        "8",
        "--pause",
        "0.001",
        "--csv",
        str(out),
    ]
    if backend == "sqlite":
        argv += ["--png", str(tmp_path / "bench.png")]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    for title in bench.TITLES.values():
        assert title in printed
    assert f"CSV: {out}" in printed

    rows = _read(out)
    assert {row["section"] for row in rows} == set(bench.SECTIONS)
    for row in rows:
        assert row["backend"] in LABELS[backend]
        assert row["sqlalchemy"] == sa.__version__
        assert row["server"].startswith(row["backend"])
        assert row["driver"] and row["driver"] in row["versions"]
        assert int(row["size"]) in sizes

    inserts = [row for row in rows if row["section"] == "inserts"]
    for size in sizes:
        at = {r["method"]: r for r in inserts if int(r["size"]) == size}
        assert set(at) == set(bench.INSERT_METHODS)
        assert float(at["raw"]["ratio_to_raw"]) == 1.0
        for method, row in at.items():
            if method == "orm_add" and size > 50:
                assert row["seconds"] == "" and "skipped" in row["note"]
                continue
            seconds = float(row["seconds"])
            assert seconds > 0
            assert float(row["rows_per_s"]) == pytest.approx(size / seconds)

    backfill = [row for row in rows if row["section"] == "backfill"]
    methods = {"one_shot"}
    if HAVE_BATCHING:
        methods |= {"batches", "batches_pause"}
    assert {row["method"] for row in backfill} == methods
    for row in backfill:
        assert int(row["writes"]) >= 0  # a tiny backfill may see none
        assert float(row["worst_stall_ms"]) >= float(row["p99_stall_ms"])
        assert float(row["p99_stall_ms"]) >= 0
        if row["method"] != "one_shot":
            assert "batches=" in row["note"]

    migration = [row for row in rows if row["section"] == "migration"]
    assert len(migration) == 2 * len(sizes)
    assert {row["method"] for row in migration} == set(bench.MIGRATION_METHODS)

    if backend == "sqlite":
        png = (tmp_path / "bench.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_backfill_section_without_batching(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "dblab.batching", None)
    out = tmp_path / "b.csv"
    argv = ["bench", "--backends", "sqlite", "--sizes", "30"]
    argv += ["--sections", "backfill", "--csv", str(out)]
    assert cli.main(argv) == 0
    assert "dblab.batching がまだない" in capsys.readouterr().out
    assert [row["method"] for row in _read(out)] == ["one_shot"]
