"""Profiling results in the database: each process writes its own row per run (so writers
never contend), and readers merge the rows into the run's table. Everything stored is
bounded: functions (PROFILING_MAX_FUNCTIONS), allocation sites, trace ids
(PROFILING_MAX_TRACE_IDS per process) and captures kept one by one
(PROFILING_MAX_CAPTURE_PROFILES per process)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F

from telemetry.models import ProfilingCapture, ProfilingProcessResult, ProfilingRun
from telemetry.profiling import table_filters
from telemetry.profiling.table import ProfileTable


@dataclass
class CaptureProfile:
    """One capture's own table, waiting to be stored."""

    label: str
    trace_id: str
    started_at: float  # epoch seconds
    duration_ms: float
    table: ProfileTable


@dataclass
class ProcessAggregate:
    """What this process captured for one run since it joined it."""

    table: ProfileTable = field(default_factory=ProfileTable)
    memory: Counter[str] = field(default_factory=Counter)
    memory_counts: Counter[str] = field(default_factory=Counter)
    captures: int = 0
    reported_captures: int = 0
    trace_ids: list[str] = field(default_factory=list)
    individual_captures: int = 0
    new_capture_profiles: list[CaptureProfile] = field(default_factory=list)
    dirty: bool = True


def max_functions() -> int:
    return int(settings.PROFILING_MAX_FUNCTIONS)


def save_process_result(*, run_id: int, process: str, aggregate: ProcessAggregate) -> int:
    """Write this process's row for the run and add its new captures to the run's count;
    returns the run's capture count afterwards (0 if the run is gone)."""
    new_captures = aggregate.captures - aggregate.reported_captures
    memory = [
        [site, size, aggregate.memory_counts[site]]
        for site, size in aggregate.memory.most_common(50)
    ]
    with transaction.atomic():
        if not ProfilingRun.objects.filter(pk=run_id).exists():
            return 0
        ProfilingProcessResult.objects.update_or_create(
            run_id=run_id,
            process=process,
            defaults={
                "captures": aggregate.captures,
                "profile": table_filters.bounded(aggregate.table, max_functions()).to_json(),
                "memory": memory,
                "trace_ids": aggregate.trace_ids,
            },
        )
        ProfilingCapture.objects.bulk_create(
            ProfilingCapture(
                run_id=run_id,
                process=process,
                label=kept.label,
                trace_id=kept.trace_id,
                started_at=datetime.fromtimestamp(kept.started_at, tz=UTC),
                duration_ms=kept.duration_ms,
                profile=kept.table.to_json(),
            )
            for kept in aggregate.new_capture_profiles
        )
        if new_captures:
            ProfilingRun.objects.filter(pk=run_id).update(captures=F("captures") + new_captures)
        total = ProfilingRun.objects.filter(pk=run_id).values_list("captures", flat=True).first()
    aggregate.reported_captures += new_captures
    aggregate.new_capture_profiles.clear()
    aggregate.dirty = False
    return int(total or 0)


def merged_table(run: ProfilingRun) -> ProfileTable:
    """The run's function table: every process's table added up, bounded."""
    merged = ProfileTable()
    for result in run.results.all():
        merged.merge(ProfileTable.from_json(result.profile))
    return table_filters.bounded(merged, max_functions())


def merged_memory(run: ProfilingRun, limit: int = 30) -> list[tuple[str, int, int]]:
    """Top allocation sites over every process: (file:line, bytes, allocations)."""
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for result in run.results.all():
        for site, size, count in result.memory:
            sizes[site] += size
            counts[site] += count
    return [(site, size, counts[site]) for site, size in sizes.most_common(limit)]


def run_trace_ids(run: ProfilingRun) -> list[str]:
    """The trace ids the run captured, bounded to PROFILING_MAX_TRACE_IDS."""
    seen: dict[str, None] = {}
    for result in run.results.all():
        for trace_id in result.trace_ids:
            seen.setdefault(trace_id, None)
    return list(seen)[: int(settings.PROFILING_MAX_TRACE_IDS)]
