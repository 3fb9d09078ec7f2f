"""``dblab bench``: its options, the run, and the printed report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dblab import settings
from dblab.bench import registry, report, server
from dblab.bench.result import Result, cell
from dblab.bench.section import Section

FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dblab bench``, then each section's own."""
    sections = registry.sections()
    names = ",".join(s.name for s in sections)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"小さいサイズ {_sizes_text(QUICK_SIZES)} で (1 分ほど)",
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        help=f"行数 (既定 {_sizes_text(FULL_SIZES)}、例: 10k,100k,1M)",
    )
    parser.add_argument(
        "--sections",
        type=parse_sections,
        help=f"測る節 (既定: {names})",
    )
    parser.add_argument(
        "--backends",
        type=parse_backends,
        help="sqlite,postgresql,mysql (既定: SQLite と設定済みのサーバー)",
    )
    parser.add_argument("--seed", type=int, default=0, help="乱数の種")
    parser.add_argument("--csv", type=Path, help="結果を CSV に保存する")
    parser.add_argument("--png", type=Path, help="グラフを PNG に保存する")
    for section in sections:
        if section.add_arguments is not None:
            section.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Measure, print the tables, save CSV / PNG when asked."""
    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    known = registry.by_name()
    chosen = [known[name] for name in args.sections or known]
    databases = [
        server.connect(name) for name in server.backends(args.backends)
    ]
    print(server.machine())
    results: list[Result] = []
    notes: list[str] = []
    try:
        for section in chosen:
            _measure(section, databases, sizes, args, notes, results)
    except BaseException:
        if results:  # a long run's figures are not lost with it
            print(report.render(results, chosen), file=sys.stderr)
        raise
    finally:
        for database in databases:
            database.close()
    print(report.render(results, chosen))
    for note in dict.fromkeys(notes):
        print(f"注: {note}")
    if args.csv:
        report.write_csv(results, args.csv)
        print(f"CSV: {args.csv}")
    if args.png:
        report.write_png(results, chosen, args.png)
        print(f"PNG: {args.png}")
    return 0


def _measure(
    section: Section,
    databases: list[server.MeasuredDatabase],
    sizes: tuple[int, ...],
    args: argparse.Namespace,
    notes: list[str],
    results: list[Result],
) -> None:
    if section.sizes is not None and args.sizes is None:
        sizes = section.sizes(args)
    for database in databases:
        for size in sizes:
            for result in section.measure(database, size, args, notes):
                result.server = database.server
                result.driver = database.driver
                result.versions = database.versions
                results.append(result)
                _progress(result)


def _progress(result: Result) -> None:
    if settings.scale() == "test":
        return
    print(
        f"  … {result.section} {result.backend} {result.size:,} "
        f"{result.method}: {cell(result, 'seconds')} s",
        file=sys.stderr,
        flush=True,
    )


def parse_size(text: str) -> int:
    """``1000``, ``10k``, ``1M`` or ``1_000_000`` as a row count."""
    part = text.strip().lower().replace("_", "")
    factor = 1
    if part.endswith("k"):
        factor, part = 1_000, part[:-1]
    elif part.endswith("m"):
        factor, part = 1_000_000, part[:-1]
    try:
        size = round(float(part) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"行数が読めません (bad size): {text!r}"
        ) from None
    if size < 1:
        raise argparse.ArgumentTypeError(f"行数は 1 以上: {text!r}")
    return size


def parse_sizes(text: str) -> tuple[int, ...]:
    return tuple(parse_size(part) for part in text.split(","))


def parse_sections(text: str) -> tuple[str, ...]:
    known = registry.by_name()
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in chosen if name not in known]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"節は {', '.join(known)} から選んでください: {text!r}"
        )
    return chosen


def parse_backends(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in chosen if name not in settings.BACKENDS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"DB は {', '.join(settings.BACKENDS)} から選んでください: "
            f"{text!r}"
        )
    return chosen


def _sizes_text(sizes: tuple[int, ...]) -> str:
    return "/".join(f"{s:,}" for s in sizes)
