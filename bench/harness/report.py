"""How every benchmark reports: ratio tables printed the same way (a ratio is its median over
rounds with the min-max spread), the figures as JSON, and a PNG of every mode's ratios."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness.rounds import ratio_of


def format_ratio(ratio: Mapping[str, float], digits: int = 3, suffix: str = "") -> str:
    """'0.850 (0.800-0.900)': the median and the min-max over rounds of a ratio_summary
    (`suffix` after the median: '5.7x (5.0-6.0)'); '-' where there was nothing to divide."""
    if math.isnan(ratio["median"]):
        return "-"
    median, low, high = (f"{ratio[k]:.{digits}f}" for k in ("median", "min", "max"))
    return f"{median}{suffix} ({low}-{high})"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, text: int = 1) -> None:
    """Columns as wide as their widest cell: the first `text` columns (names) left-aligned,
    the figures right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return " ".join(
            f"{cell:<{width}}" if index < text else f"{cell:>{width}}"
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    print("\n" + line(headers))
    for row in rows:
        print(line([str(cell) for cell in row]))


@dataclass(frozen=True)
class Column:
    """A column of a summary table: its header, and its cell from a mode's figures."""

    header: str
    cell: Callable[[Mapping], str]


def figure(header: str, name: str, spec: str) -> Column:
    """A figure as it is (a median over rounds), formatted with `spec` (".2f")."""
    return Column(header, lambda figures: format(figures[name], spec))


def ratio(header: str, name: str, digits: int = 3) -> Column:
    """A ratio kept by rounds.summarize: median (min-max)."""
    return Column(header, lambda figures: format_ratio(ratio_of(figures, name), digits))


def print_summary(summary: Mapping, columns: Sequence[Column], *, group: str | None = None) -> None:
    """A summary of rounds.summarize ({mode: figures}, or {mode: {group: figures}} with a
    group such as "endpoint") as a table: a row per mode (and group)."""
    rows = []
    for mode, per in summary.items():
        for name, figures in per.items() if group else [(None, per)]:
            rows.append([mode, *([name] if group else []), *(c.cell(figures) for c in columns)])
    headers = ["mode", *([group] if group else []), *(c.header for c in columns)]
    print_table(headers, rows, text=2 if group else 1)


def write_json(path: Path, payload: object) -> Path:
    """The results as indented JSON (paths and other objects as strings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


@dataclass
class Panel:
    """One chart of a PNG: for each group (an endpoint, or "jobs"), each mode's ratio as a
    ratio_summary ({"median", "min", "max"}), drawn as a bar with min-max whiskers."""

    title: str
    ylabel: str
    bars: dict[str, dict[str, Mapping[str, float]]] = field(default_factory=dict)


def ratio_bars(summary: Mapping, name: str, *, group: str | None = None) -> dict:
    """A Panel's bars from a summary of rounds.summarize: the ratio `name` of every mode,
    per group (with `group`), or as one group named `name`."""
    if group is None:
        return {name: {mode: ratio_of(figures, name) for mode, figures in summary.items()}}
    groups = dict.fromkeys(g for per in summary.values() for g in per)
    return {
        g: {mode: ratio_of(per[g], name) for mode, per in summary.items() if g in per}
        for g in groups
    }


def plot_ratios(path: Path, title: str, panels: Sequence[Panel]) -> Path:
    """A PNG with one chart per panel: one bar per mode (side by side per group), its
    whiskers the min-max over rounds, and a line at 1 (the baseline)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: the file is the point
    import matplotlib.pyplot as plt

    panels = [p for p in panels if any(p.bars.values())]
    figure, axes = plt.subplots(
        len(panels), 1, figsize=(10, 3.6 * len(panels)), squeeze=False, layout="constrained"
    )
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        groups = list(panel.bars)
        modes = list(dict.fromkeys(m for per_mode in panel.bars.values() for m in per_mode))
        width = 0.8 / max(len(groups), 1)
        for g, group in enumerate(groups):
            xs, medians, below, above = [], [], [], []
            for m, mode in enumerate(modes):
                ratio = panel.bars[group].get(mode)
                if ratio is None or math.isnan(ratio["median"]):
                    continue
                xs.append(m + (g - (len(groups) - 1) / 2) * width)
                medians.append(ratio["median"])
                below.append(ratio["median"] - ratio["min"])
                above.append(ratio["max"] - ratio["median"])
            bars = ax.bar(xs, medians, width * 0.9, yerr=[below, above], capsize=3, label=group)
            ax.bar_label(bars, fmt="%.2f", padding=2, fontsize=8)
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(modes)), modes, rotation=15, ha="right")
        ax.set_title(panel.title)
        ax.set_ylabel(panel.ylabel)
        if len(groups) > 1:
            ax.legend(fontsize=8)
    figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
