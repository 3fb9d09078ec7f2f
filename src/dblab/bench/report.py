"""The bench's output: a text table per section, a CSV, a PNG chart."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

from dblab.bench.result import HEADERS, TEXT_COLUMNS, Result, cell
from dblab.bench.section import Section
from dblab.steps import display_width


def render(results: list[Result], sections: list[Section]) -> str:
    """The results as one plain-text table per section, in their order."""
    blocks = []
    for section in sections:
        rows = [r for r in results if r.section == section.name]
        if rows:
            blocks.append(_table(section, rows))
    return "\n\n".join(blocks)


def _table(section: Section, rows: list[Result]) -> str:
    columns = section.columns
    cells = [[HEADERS.get(c, c) for c in columns]]
    cells += [[cell(r, c) for c in columns] for r in rows]
    widths = [
        max(display_width(row[i]) for row in cells)
        for i in range(len(columns))
    ]
    numeric = [c not in TEXT_COLUMNS for c in columns]
    lines = [f"## {section.title}"]
    for index, row in enumerate(cells):
        lines.append(
            "  ".join(
                _pad(text, width, right)
                for text, width, right in zip(
                    row, widths, numeric, strict=True
                )
            ).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _pad(text: str, width: int, right: bool) -> str:
    space = " " * (width - display_width(text))
    return space + text if right else text + space


def write_csv(results: list[Result], path: Path) -> None:
    """Every field of every result, one row each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = [f.name for f in dataclasses.fields(Result)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for result in results:
            writer.writerow(dataclasses.asdict(result))


def write_png(
    results: list[Result], sections: list[Section], path: Path
) -> None:
    """One panel per section and backend (Japanese labels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (Japanese glyphs)

    shown = [s for s in sections if any(r.section == s.name for r in results)]
    backends = list(dict.fromkeys(r.backend for r in results))
    figure, axes = plt.subplots(
        len(shown),
        len(backends),
        figsize=(5.5 * len(backends), 4.6 * len(shown)),
        squeeze=False,
    )
    for row, section in enumerate(shown):
        for col, backend in enumerate(backends):
            ax = axes[row][col]
            chosen = [
                r
                for r in results
                if r.section == section.name and r.backend == backend
            ]
            _panel(ax, section, chosen)
            ax.set_title(f"{backend}: {section.panel}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _panel(ax, section: Section, results: list[Result]) -> None:
    if not results:
        ax.set_axis_off()
        return
    chart = section.chart
    if chart.kind == "lines":
        _lines(ax, results, chart.field)
    else:
        _bars(ax, results, chart.field)
    ax.set_yscale("log")
    ax.set_xlabel("行数")
    ax.set_ylabel(chart.unit)
    ax.legend(
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        ncol=2,
        frameon=False,
    )


def _lines(ax, results: list[Result], field: str) -> None:
    labels = {r.method: r.label for r in results}
    for method, label in labels.items():
        points = sorted(
            (r.size, getattr(r, field) or math.nan)
            for r in results
            if r.method == method
        )
        ax.plot(*zip(*points, strict=True), marker="o", label=label)
    ax.set_xscale("log")


def _bars(ax, results: list[Result], field: str) -> None:
    sizes = sorted({r.size for r in results})
    labels = {r.method: r.label for r in results}
    width = 0.8 / len(labels)
    for index, (method, label) in enumerate(labels.items()):
        values = {
            r.size: getattr(r, field) for r in results if r.method == method
        }
        ax.bar(
            [i + index * width for i in range(len(sizes))],
            [values.get(s) or math.nan for s in sizes],
            width,
            label=label,
        )
    ax.set_xticks(
        [i + 0.4 - width / 2 for i in range(len(sizes))],
        [f"{s:,}" for s in sizes],
    )
