"""The service overview: per route (server spans) and per Celery task (consumer spans), the
request rate, the error rate and latency percentiles over a window, computed from the spans
the local store holds.

What it reflects is what was sampled and kept: a trace the sampler dropped is not here, and
a window longer than the store's history covers only that history (the page says both). The
metrics (http.server.request.duration in Prometheus) count every request; this page is for
the machine with no Prometheus, and for going from a slow route straight to its traces.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Min
from opentelemetry.instrumentation.utils import suppress_instrumentation

from telemetry.models.explorer import StoredSpan

PERCENTILES = (50, 90, 99)


def percentile(ordered: list[int], share: float) -> float:
    """The `share` (0-100) percentile of ascending values, interpolated linearly between the
    closest ranks (numpy's default, "linear"); nan for no values."""
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * share / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class OperationStats:
    """One route or task over the window."""

    kind: str  # "server" (a route) or "consumer" (a task)
    name: str
    count: int = 0
    errors: int = 0
    durations_us: list[int] = field(default_factory=list, repr=False)
    per_second: float = 0.0
    percentiles_ms: dict[int, float] = field(default_factory=dict)

    @property
    def error_share(self) -> float:
        return self.errors / self.count if self.count else 0.0


@dataclass
class Overview:
    window_seconds: int
    covered_seconds: float  # of the window, how much the store's history covers
    routes: list[OperationStats]
    tasks: list[OperationStats]

    @property
    def partial(self) -> bool:
        return self.covered_seconds + 1 < self.window_seconds


def service_overview(window_seconds: int, *, now_us: int | None = None) -> Overview:
    """Rates, error shares and p50/p90/p99 per route and per task over the last
    `window_seconds`, from the stored server and consumer spans that started in it."""
    now_us = now_us if now_us is not None else time.time_ns() // 1000
    since_us = now_us - window_seconds * 1_000_000
    with suppress_instrumentation():
        oldest = StoredSpan.objects.aggregate(oldest=Min("start_us"))["oldest"]
        spans = (
            StoredSpan.objects.filter(kind__in=("server", "consumer"), start_us__gte=since_us)
            .order_by()
            .values_list("kind", "name", "duration_us", "status_code")
            .iterator(chunk_size=5000)
        )
        stats: dict[tuple[str, str], OperationStats] = {}
        grouped: dict[tuple[str, str], list[int]] = defaultdict(list)
        for kind, name, duration, status in spans:
            key = (kind, name)
            entry = stats.get(key)
            if entry is None:
                entry = stats[key] = OperationStats(kind=kind, name=name)
            entry.count += 1
            if status == StoredSpan.Status.ERROR:
                entry.errors += 1
            grouped[key].append(duration)
    covered_from = max(since_us, oldest) if oldest is not None else now_us
    covered = max((now_us - covered_from) / 1e6, 1.0)
    for key, entry in stats.items():
        ordered = sorted(grouped[key])
        entry.durations_us = ordered
        entry.per_second = entry.count / covered
        entry.percentiles_ms = {p: percentile(ordered, p) / 1000 for p in PERCENTILES}
    by_count = sorted(stats.values(), key=lambda e: (-e.count, e.name))
    return Overview(
        window_seconds=window_seconds,
        covered_seconds=min(covered, float(window_seconds)),
        routes=[e for e in by_count if e.kind == "server"],
        tasks=[e for e in by_count if e.kind == "consumer"],
    )
