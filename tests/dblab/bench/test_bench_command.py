"""``dblab bench`` at tiny sizes: the structure of its table, CSV and PNG
on every backend (the figures themselves are printed, never asserted)."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from dblab import cli
from dblab.bench import command, registry
from dblab.bench.sections import (
    backfill,
    inserts,
    migration,
    schema_changes,
)

LABELS = {"sqlite": {"SQLite"}, "postgresql": {"PostgreSQL"}}
LABELS["mysql"] = {"MariaDB", "MySQL"}
BATCHED = {"batches_offset", "batches", "batches_pause"}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_sizes_and_sections_parse() -> None:
    assert command.parse_sizes("10k, 100_000,1M") == (10_000, 100_000, 10**6)
    with pytest.raises(argparse.ArgumentTypeError):
        command.parse_sizes("many")
    with pytest.raises(argparse.ArgumentTypeError, match="inserts"):
        command.parse_sections("inserts,speed")
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
    argv = ["bench", "--backends", backend]
    argv += ["--sizes", ",".join(map(str, sizes)), "--orm-max", "50"]
    argv += ["--batch-size", "4", "--pause", "0.02", "--csv", str(out)]
    argv += ["--sections", "inserts,backfill,migration"]
    if backend == "sqlite":
        argv += ["--png", str(tmp_path / "bench.png")]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    for section in (inserts, backfill, migration):
        assert f"## {section.SECTION.title}" in printed
    assert f"CSV: {out}" in printed

    rows = read_csv(out)
    assert [row["section"] for row in rows[:1]] == ["inserts"]
    for row in rows:
        assert row["backend"] in LABELS[backend]
        assert row["sqlalchemy"] == sa.__version__
        assert row["server"].startswith(row["backend"])
        assert row["driver"] and row["driver"] in row["versions"]
        assert int(row["size"]) in sizes

    for size in sizes:
        at = {
            r["method"]: r
            for r in rows
            if r["section"] == "inserts" and int(r["size"]) == size
        }
        assert set(at) == set(inserts.METHODS)
        assert float(at["raw"]["ratio_to_raw"]) == 1.0
        for method, row in at.items():
            if method == "orm_add" and size > 50:
                assert row["seconds"] == "" and "skipped" in row["note"]
                continue
            seconds = float(row["seconds"])
            assert float(row["rows_per_s"]) == pytest.approx(size / seconds)
            raw = float(at["raw"]["seconds"])
            assert float(row["ratio_to_raw"]) == pytest.approx(seconds / raw)

    filled = [row for row in rows if row["section"] == "backfill"]
    assert {row["method"] for row in filled} == {"one_shot"} | BATCHED
    for row in filled:
        assert float(row["worst_stall_ms"]) >= float(row["p99_stall_ms"])
        if row["method"] in BATCHED:
            # 20+ NULL rows in batches of 4: at least 4 batches; with a
            # 20 ms pause between them the writer (every 5 ms) did write.
            batches = int(row["note"].split("batches=")[1].split(",")[0])
            assert batches >= int(row["size"]) // 2 // 4 - 1
            assert int(row["writes"]) >= 1
            assert float(row["p99_stall_ms"]) > 0

    moved = [row for row in rows if row["section"] == "migration"]
    assert [row["method"] for row in moved] == list(migration.METHODS) * len(
        sizes
    )

    if backend == "sqlite":
        png = (tmp_path / "bench.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_registry_lists_every_section_module() -> None:
    folder = Path(registry.sections_package.__file__).parent
    modules = {p.stem for p in folder.glob("*.py")} - {"__init__"}
    found = registry.sections()
    assert {s.measure.__module__.rsplit(".", 1)[1] for s in found} == modules
    assert [s.order for s in found] == sorted(s.order for s in found)
    assert len({s.name for s in found}) == len(found)
    for path in folder.glob("*.py"):  # sections stand alone
        assert "dblab.bench.sections" not in path.read_text("utf-8"), path


PROBE = """
from dblab.bench.result import Result
from dblab.bench.section import Chart, Section


def measure(database, size, args, notes):
    notes.append("probe ran")
    yield Result("probe", database.label, size, "only", "探り", 0.5)


SECTION = Section(
    name="probe",
    order=99,
    title="探りの節 (probe)",
    panel="探り",
    columns=("backend", "size", "label", "seconds"),
    measure=measure,
    chart=Chart("bars"),
)
"""


def test_a_new_section_module_is_all_it_takes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A module dropped beside the sections runs, prints and saves."""
    (tmp_path / "probe_section.py").write_text(PROBE, encoding="utf-8")
    package = registry.sections_package
    monkeypatch.setattr(
        package, "__path__", [*package.__path__, str(tmp_path)]
    )
    monkeypatch.delitem(
        sys.modules, f"{package.__name__}.probe_section", raising=False
    )
    assert "probe" in registry.by_name()
    out = tmp_path / "probe.csv"
    argv = ["bench", "--backends", "sqlite", "--sizes", "7"]
    argv += ["--sections", "probe", "--csv", str(out)]
    argv += ["--png", str(tmp_path / "probe.png")]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "## 探りの節 (probe)" in printed
    assert "注: probe ran" in printed
    assert "0.500" in printed
    (row,) = read_csv(out)
    assert (row["section"], row["size"], row["label"]) == (
        "probe",
        "7",
        "探り",
    )
    assert (tmp_path / "probe.png").read_bytes().startswith(b"\x89PNG")


def test_schema_changes_section_runs_every_form(
    backend: str,
    server: sa.URL,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each naive and safe form ran on the server (figures not asserted)."""
    out = tmp_path / "ddl.csv"
    argv = ["bench", "--backends", backend, "--sizes", "300"]
    argv += ["--sections", "schema_changes", "--csv", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    rows = {row["method"]: row for row in read_csv(out)}
    if backend == "sqlite":
        assert rows == {}
        assert "SQLite: no online DDL" in printed
        return
    forms = (
        schema_changes.POSTGRESQL
        if backend == "postgresql"
        else schema_changes.MARIADB
    )
    assert set(rows) == {*forms, "bigint_safe"}
    assert "batches=" in rows["bigint_safe"]["note"]
    for method, row in rows.items():
        if method == "bigint_online":  # MariaDB cannot change it online
            assert row["seconds"] == "" and row["note"] == "refused"
            assert "1846" in printed
            continue
        assert float(row["seconds"]) > 0, method
        assert row["worst_stall_ms"] != "", method  # measured
