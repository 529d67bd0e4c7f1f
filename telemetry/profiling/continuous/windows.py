"""Continuous profiles in the database: one row per process and time window, written (and
rewritten while the window is open) by that process only, so writers never contend.

Bounded three ways: stacks and traces per row (the sampler stops adding new ones past
PROFILING_CONTINUOUS_MAX_STACKS / _MAX_TRACES, and counts what it left out), rows by age
(PROFILING_CONTINUOUS_RETENTION_HOURS) and rows in all (PROFILING_CONTINUOUS_MAX_WINDOWS,
oldest first). Reading a range merges at most PROFILING_CONTINUOUS_MAX_WINDOWS_READ rows,
the newest, and says when it stopped there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from telemetry.models import ContinuousProfileWindow
from telemetry.profiling.stacks import StackProfile


@dataclass(frozen=True)
class WindowRecord:
    """One window as the sampler hands it over, with who sampled it."""

    start: int  # epoch seconds
    seconds: int
    profile: StackProfile
    samples: int
    sampler_cpu_seconds: float
    process_cpu_seconds: float
    mode: str
    sample_hz: int


def save_windows(windows: Iterable[WindowRecord], *, service: str, role: str, process: str) -> int:
    """Write (or rewrite) this process's rows for these windows; returns how many."""
    written = 0
    for window in windows:
        stacks, traces = window.profile.to_json()
        ContinuousProfileWindow.objects.update_or_create(
            process=process,
            window_start=datetime.fromtimestamp(window.start, tz=UTC),
            defaults={
                "service": service,
                "role": role,
                "window_seconds": window.seconds,
                "mode": window.mode,
                "sample_hz": window.sample_hz,
                "samples": window.samples,
                "dropped_samples": window.profile.dropped_samples,
                "stacks": stacks,
                "traces": traces,
                "sampler_cpu_seconds": round(window.sampler_cpu_seconds, 6),
                "process_cpu_seconds": round(window.process_cpu_seconds, 6),
            },
        )
        written += 1
    return written


def prune(now: datetime | None = None) -> int:
    """Delete rows past the retention, then the oldest beyond the row limit."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.PROFILING_CONTINUOUS_RETENTION_HOURS)
    deleted, _ = ContinuousProfileWindow.objects.filter(window_start__lt=cutoff).delete()
    limit = int(settings.PROFILING_CONTINUOUS_MAX_WINDOWS)
    newest_beyond = (
        ContinuousProfileWindow.objects.order_by("-window_start", "-pk")
        .values_list("window_start", flat=True)[limit : limit + 1]
        .first()
    )
    if newest_beyond is not None:
        more, _ = ContinuousProfileWindow.objects.filter(window_start__lte=newest_beyond).delete()
        deleted += more
    return deleted


def windows_in_range(
    start: datetime,
    end: datetime,
    *,
    service: str = "",
    role: str = "",
    process: str = "",
) -> QuerySet[ContinuousProfileWindow]:
    """Rows whose window overlaps [start, end), newest first."""
    longest = timedelta(seconds=max(settings.PROFILING_CONTINUOUS_WINDOW_SECONDS, 1))
    rows = ContinuousProfileWindow.objects.filter(
        window_start__lt=end, window_start__gt=start - longest
    )
    if service:
        rows = rows.filter(service=service)
    if role:
        rows = rows.filter(role=role)
    if process:
        rows = rows.filter(process=process)
    return rows.order_by("-window_start", "process")


@dataclass
class RangeProfile:
    """The merged profile of a time range, and what went into it."""

    profile: StackProfile = field(default_factory=StackProfile)
    windows: int = 0
    windows_in_range: int = 0
    processes: set[str] = field(default_factory=set)
    samples: int = 0
    dropped_samples: int = 0
    sampler_cpu_seconds: float = 0.0
    process_cpu_seconds: float = 0.0
    first: datetime | None = None
    last: datetime | None = None

    @property
    def truncated(self) -> bool:
        return self.windows < self.windows_in_range

    @property
    def profiler_cpu_share(self) -> float | None:
        """The sampler's CPU as a share of its processes' CPU over these windows."""
        if self.process_cpu_seconds <= 0:
            return None
        return self.sampler_cpu_seconds / self.process_cpu_seconds


def range_profile(rows: QuerySet[ContinuousProfileWindow]) -> RangeProfile:
    """Merge the rows (at most PROFILING_CONTINUOUS_MAX_WINDOWS_READ, newest first)."""
    limit = int(settings.PROFILING_CONTINUOUS_MAX_WINDOWS_READ)
    result = RangeProfile(windows_in_range=rows.count())
    for row in rows[:limit]:
        result.profile.merge(StackProfile.from_json(row.stacks, row.traces))
        result.windows += 1
        result.processes.add(row.process)
        result.samples += row.samples
        result.dropped_samples += row.dropped_samples
        result.sampler_cpu_seconds += row.sampler_cpu_seconds
        result.process_cpu_seconds += row.process_cpu_seconds
        end = row.window_start + timedelta(seconds=row.window_seconds)
        result.first = min(result.first or row.window_start, row.window_start)
        result.last = max(result.last or end, end)
    return result


def choices() -> dict[str, list[str]]:
    """The services, roles and processes that have windows (for the console's filters)."""
    recent = ContinuousProfileWindow.objects.order_by()
    return {
        "services": sorted(set(recent.values_list("service", flat=True).distinct()[:50])),
        "roles": sorted(set(recent.values_list("role", flat=True).distinct()[:50])),
        "processes": sorted(set(recent.values_list("process", flat=True).distinct()[:200])),
    }
