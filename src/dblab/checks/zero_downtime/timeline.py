"""The capstone's timeline: latency over time, steps marked, errors red.

Each request is a dot at the time it started, as high as it took; a
failed request is a red cross. Every step is a shaded band with its
name, so a spike sits inside the step that caused it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dblab.checks.zero_downtime import Report

COLOURS = {
    "old": "#4c72b0",
    "dual": "#55a868",
    "new-read": "#8172b2",
    "new-only": "#ccb974",
}


def plot(report: Report, ax=None):
    """Draw ``report``'s timeline on ``ax`` (a new figure without one)."""
    import matplotlib.pyplot as plt

    try:
        import matplotlib_fontja  # noqa: F401 (Japanese glyphs)
    except ImportError:
        pass
    if ax is None:
        figure, ax = plt.subplots(figsize=(10, 4))
    else:
        figure = ax.figure
    run = report.run
    ax.axvspan(0, run.baseline_end, color="#eeeeee")
    ax.text(0, 1.0, "基準", transform=ax.get_xaxis_transform(), va="top")
    for number, step in enumerate(run.steps, start=1):
        shade = ("#e8f1fa", "#fdf3e1")[number % 2]
        ax.axvspan(step.start, step.end, color=shade, alpha=0.8)
        ax.axvline(step.start, color="#999999", linewidth=0.6)
        if step.error:
            ax.axvline(step.end, color="red", linewidth=1.5)
        ax.text(
            step.start,
            1.0 - 0.08 * (number % 3),
            f"{number}. {step.step}",
            transform=ax.get_xaxis_transform(),
            va="top",
            fontsize=7,
        )
    for version, colour in COLOURS.items():
        served = [
            r for r in run.requests if r.version == version and not r.error
        ]
        if served:
            ax.scatter(
                [r.at for r in served],
                [r.latency * 1000 for r in served],
                s=6,
                color=colour,
                label=version,
            )
    errors = [r for r in run.requests if r.error]
    if errors:
        ax.scatter(
            [r.at for r in errors],
            [r.latency * 1000 for r in errors],
            s=24,
            marker="x",
            color="red",
            label=f"エラー ({len(errors)})",
        )
    ax.set_xlabel("経過時間 (s)")
    ax.set_ylabel("レイテンシ (ms)")
    ax.set_title(f"ライブトラフィックとロールアウト ({run.backend})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    figure.tight_layout()
    return figure
