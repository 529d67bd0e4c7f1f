"""Profiling runs: the services that start, stop, finish and prune them, and the in-memory
snapshot of active runs that every process's hot path reads (through telemetry.control).

Capture is in telemetry.profiling.yappi_capture, the per-process agent that reports captures in
telemetry.profiling.agent, storage and merging in telemetry.profiling.storage, the export
formats in telemetry.profiling.export_formats and the picture in telemetry.profiling.flamegraph.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.safe_regex import SafePattern
from telemetry.control import channels
from telemetry.models import ProfilingRun

logger = logging.getLogger(__name__)

Target = ProfilingRun.Target


@dataclass(frozen=True)
class ActiveRun:
    """What a process needs to know about a run on its hot path; times are epoch seconds."""

    id: int
    target: str
    route_pattern: SafePattern | None
    task_pattern: SafePattern | None
    sample_every: int
    clock: str
    memory: bool
    max_captures: int
    starts_at: float
    deadline: float

    def is_live(self, now: float) -> bool:
        return self.starts_at <= now < self.deadline

    def matches_request(self, route: str, path: str) -> bool:
        if self.target not in (Target.REQUESTS, Target.REQUESTS_AND_TASKS):
            return False
        pattern = self.route_pattern
        return pattern is None or bool(pattern.search(route) or pattern.search(path))

    def matches_task(self, name: str) -> bool:
        if self.target not in (Target.TASKS, Target.REQUESTS_AND_TASKS):
            return False
        return self.task_pattern is None or bool(self.task_pattern.search(name))


def _compiled(pattern: str) -> SafePattern | None:
    # Every search bounded in time (common.safe_regex): the pattern is a staff member's.
    return SafePattern(pattern) if pattern else None


def _active_run(run: ProfilingRun) -> ActiveRun:
    starts = run.started_at or run.starts_at or run.created_at
    return ActiveRun(
        id=run.pk,
        target=run.target,
        route_pattern=_compiled(run.route_pattern),
        task_pattern=_compiled(run.task_pattern),
        sample_every=max(1, run.sample_every),
        clock=run.clock,
        memory=run.memory,
        max_captures=run.max_captures,
        starts_at=starts.timestamp(),
        deadline=starts.timestamp() + run.max_duration_seconds,
    )


def load_active_runs() -> tuple[ActiveRun, ...]:
    """The snapshot loader: runs that are scheduled or running, oldest first."""
    runs = ProfilingRun.objects.filter(status__in=ProfilingRun.ACTIVE).order_by("created_at")
    return tuple(_active_run(run) for run in runs)


active_runs: channels.Channel[tuple[ActiveRun, ...]] = channels.register_channel(
    channels.Channel("profiling", load_active_runs, empty=())
)


def profiling_enabled() -> bool:
    return bool(getattr(settings, "PROFILING_ENABLED", True))


def live_runs() -> tuple[ActiveRun, ...]:
    """Runs this process should capture for now: memory only, no query."""
    runs = active_runs.snapshot()
    if not runs:
        return runs
    now = time.time()
    return tuple(run for run in runs if run.is_live(now))


# --- services ---------------------------------------------------------------------------


def run_start(*, created_by: Any = None, **fields: Any) -> ProfilingRun:
    """Create a run from validated fields (telemetry.profiling.forms) and start it."""
    return run_save_new(ProfilingRun(**fields), created_by=created_by)


def run_save_new(run: ProfilingRun, *, created_by: Any = None) -> ProfilingRun:
    """Store a new run, running now or scheduled for its `starts_at`, and tell every process.

    Fields left empty take the PROFILING_DEFAULT_* settings.
    """
    now = timezone.now()
    scheduled = run.starts_at is not None and run.starts_at > now
    run.sample_every = run.sample_every or settings.PROFILING_DEFAULT_SAMPLE_EVERY
    run.max_duration_seconds = run.max_duration_seconds or settings.PROFILING_DEFAULT_MAX_SECONDS
    run.max_captures = run.max_captures or settings.PROFILING_DEFAULT_MAX_CAPTURES
    run.status = ProfilingRun.Status.SCHEDULED if scheduled else ProfilingRun.Status.RUNNING
    run.started_at = None if scheduled else now
    run.created_by = created_by
    run.save()
    transaction.on_commit(active_runs.notify_changed)
    logger.info("profiling run started", extra={"profiling_run_id": run.pk, "target": run.target})
    return run


def run_end(*, run_id: int, status: str, reason: str) -> bool:
    """End an active run (finished, failed or cancelled); False if it had ended already.

    A conditional update, so that many processes racing to end the same run end it once.
    """
    now = timezone.now()
    ended = ProfilingRun.objects.filter(pk=run_id, status__in=ProfilingRun.ACTIVE).update(
        status=status, status_reason=reason[:300], ended_at=now
    )
    if ended:
        transaction.on_commit(active_runs.notify_changed)
        logger.info(
            "profiling run ended",
            extra={"profiling_run_id": run_id, "status": status, "reason": reason},
        )
    return bool(ended)


def run_stop(*, run_id: int) -> bool:
    """Cancel a run on an operator's request."""
    return run_end(run_id=run_id, status=ProfilingRun.Status.CANCELLED, reason="stopped")


def runs_advance(now: datetime | None = None) -> None:
    """Start scheduled runs whose time came, finish running ones past their duration or
    capture limit. Any process may call it (the agent does, every poll; reads do too), so a
    run ends by itself even when no process captures anything for it."""
    now = now or timezone.now()
    due = ProfilingRun.objects.filter(status=ProfilingRun.Status.SCHEDULED, starts_at__lte=now)
    for run in due:
        if ProfilingRun.objects.filter(pk=run.pk, status=ProfilingRun.Status.SCHEDULED).update(
            status=ProfilingRun.Status.RUNNING, started_at=now
        ):
            transaction.on_commit(active_runs.notify_changed)
    for run in ProfilingRun.objects.filter(status=ProfilingRun.Status.RUNNING):
        if run.captures >= run.max_captures:
            run_end(
                run_id=run.pk,
                status=ProfilingRun.Status.FINISHED,
                reason=f"reached {run.max_captures} captures",
            )
        elif run.started_at and now >= run.started_at + timedelta(seconds=run.max_duration_seconds):
            run_end(
                run_id=run.pk,
                status=ProfilingRun.Status.FINISHED,
                reason=f"reached {run.max_duration_seconds} s",
            )


def runs_prune(*, older_than: timedelta) -> int:
    """Delete ended runs (and their results) that ended more than `older_than` ago."""
    cutoff = timezone.now() - older_than
    old_runs = ProfilingRun.objects.filter(
        status__in=[
            ProfilingRun.Status.FINISHED,
            ProfilingRun.Status.FAILED,
            ProfilingRun.Status.CANCELLED,
        ],
        ended_at__lt=cutoff,
    )
    count = old_runs.count()
    old_runs.delete()
    return count
