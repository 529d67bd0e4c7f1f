"""Modes in alternating rounds, and their ratios to a baseline, against drift on a shared
machine: within each round every mode runs once, in an order rotated from round to round,
and each ratio is taken against the baseline of the same round; the median over rounds is
reported with its min-max spread.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NAN = float("nan")


def rotated(names: Sequence[str], round_index: int) -> list[str]:
    """The modes in the order of this round: shifted by one every round."""
    shift = round_index % len(names)
    return [*names[shift:], *names[:shift]]


def ratio_summary(values: Sequence[float], baselines: Sequence[float], *, cost: bool) -> dict:
    """Per-round ratios of a mode to its baseline: median, min, max and how many.

    cost=True (CPU, instructions: lower is better): baseline / value, the throughput those
    costs alone would allow; cost=False (throughput, or a cost read as a multiple, such as
    "p99 x"): value / baseline. A round without a figure (0 or NaN) is left out rather than
    counted as free or infinite.
    """
    pairs = zip(values, baselines, strict=True)
    ratios = [b / v if cost else v / b for v, b in pairs if _usable(v) and _usable(b)]
    if not ratios:
        return {"median": NAN, "min": NAN, "max": NAN, "n": 0}
    return {
        "median": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "n": len(ratios),
    }


def _usable(value: float) -> bool:
    return value > 0 and not math.isnan(value)


@dataclass(frozen=True)
class Ratio:
    """A ratio of a figure of each run to the same figure of the baseline's run of the same
    round, kept in a summary as `name` (median), `name_min` and `name_max`."""

    name: str
    field: str
    cost: bool = False  # baseline / run (see ratio_summary)


def summarize(
    runs: Iterable[dict],
    modes: Sequence[str],
    *,
    baseline: str,
    medians: Sequence[str],
    ratios: Sequence[Ratio],
    group: str | None = None,
) -> dict:
    """Per mode (and per value of `group`, such as the endpoint): the median over rounds of
    each of `medians`, and each of `ratios` against the baseline of the same round.

    Each run is a dict with "round", "mode", the figures, and `group` if given. Without a
    group, the summary is {mode: figures}; with one, {mode: {group value: figures}}.
    """
    runs = list(runs)
    key = (lambda run: run[group]) if group else (lambda run: None)
    by_key = {(run["round"], run["mode"], key(run)): run for run in runs}
    groups = list(dict.fromkeys(key(run) for run in runs))
    summary: dict = {}
    for mode in modes:
        per_group = {}
        for value in groups:
            mine = [r for r in runs if r["mode"] == mode and key(r) == value]
            if not mine:
                continue
            bases = [by_key.get((r["round"], baseline, value)) for r in mine]
            paired = [(r, b) for r, b in zip(mine, bases, strict=True) if b is not None]
            figures = {name: statistics.median(r[name] for r in mine) for name in medians}
            for ratio in ratios:
                s = ratio_summary(
                    [r[ratio.field] for r, _ in paired],
                    [b[ratio.field] for _, b in paired],
                    cost=ratio.cost,
                )
                figures[ratio.name] = s["median"]
                figures[f"{ratio.name}_min"] = s["min"]
                figures[f"{ratio.name}_max"] = s["max"]
            per_group[value] = figures
        if per_group:
            summary[mode] = per_group if group else per_group[None]
    return summary


def ratio_of(figures: dict, name: str) -> dict:
    """A ratio kept by summarize, as ratio_summary gives it: {"median", "min", "max"}."""
    return {"median": figures[name], "min": figures[f"{name}_min"], "max": figures[f"{name}_max"]}
