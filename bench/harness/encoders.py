"""The official OTLP encoder against a fast one, per item, in alternating rounds: what
bench/span_encoding.py and bench/log_encoding.py share. Each case of a batch is timed
`repeat` times (the best kept) in every round, the cases' order reversed every other
round; a cold batch has the fast encoder's caches emptied before each timed run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

from bench.harness import report
from bench.harness.rounds import ratio_summary

CASES = ("official", "grpc", "http")


def us_per_item(
    run: Callable[[], object], items: int, repeat: int, clear: Callable[[], None] | None
) -> float:
    """Microseconds per item of the best of `repeat` runs, `clear` called before each."""
    best = float("inf")
    for _ in range(repeat):
        if clear is not None:
            clear()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best / items * 1e6


def compare(
    batches: dict[str, Sequence],
    cases: Callable[[Sequence], dict[str, Callable[[], object]]],
    *,
    cold: set[str],
    clear: Callable[[], None],
    rounds: int,
    repeat: int,
) -> dict[str, dict[str, list[float]]]:
    """Microseconds per item, by batch and case (CASES, from `cases(batch)`), one figure a
    round; the batches in `cold` time the fast cases with their caches emptied."""
    results: dict[str, dict[str, list[float]]] = {b: {c: [] for c in CASES} for b in batches}
    for round_number in range(rounds):
        for batch, items in batches.items():
            runs = cases(items)
            order = list(CASES) if round_number % 2 == 0 else list(reversed(CASES))
            for case in order:
                emptied = clear if batch in cold and case != "official" else None
                results[batch][case].append(us_per_item(runs[case], len(items), repeat, emptied))
    return results


def print_comparison(results: dict[str, dict[str, list[float]]]) -> None:
    """One row per batch: each case's median, and official/fast within each round."""
    rows = []
    for batch, by_case in results.items():
        medians = [f"{statistics.median(by_case[c]):.2f}" for c in CASES]
        speedups = [
            report.format_ratio(ratio_summary(by_case[c], by_case["official"], cost=True), 1, "x")
            for c in ("grpc", "http")
        ]
        rows.append([batch, *medians, *speedups])
    report.print_table(
        ["batch", "official us", "grpc us", "http us", "official/grpc", "official/http"], rows
    )
