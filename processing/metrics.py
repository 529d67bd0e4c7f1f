"""Business metrics of the processing app, through the OpenTelemetry API only.

The instruments are created at import and record nothing until the process has a meter
provider (set up by the platform), so this module works, and costs nothing, without one.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Iterable

from django.db import connections
from django.utils import timezone
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation

from processing.models import ProcessingJob

logger = logging.getLogger(__name__)

_meter = metrics.get_meter("processing")

# Seconds, from a fast job (tens of ms) to one that waited behind a backlog.
_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

jobs_queued = _meter.create_counter(
    "processing.jobs.queued",
    unit="{job}",
    description="Jobs accepted and handed to the broker.",
)
jobs_finished = _meter.create_counter(
    "processing.jobs.finished",
    unit="{job}",
    description="Jobs that reached a final state, by outcome (succeeded, failed).",
)
job_duration = _meter.create_histogram(
    "processing.job.duration",
    unit="s",
    description="From the first attempt's start to the final state, retries included.",
    explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
)
job_queue_wait = _meter.create_histogram(
    "processing.job.queue_wait",
    unit="s",
    description="From queued to the first attempt's start.",
    explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
)


# --- The age of the oldest queued job, for the "jobs are stuck" alert.
# Every process that has a meter provider reports it (web workers, pool children), so it keeps
# coming while any of them lives: the workers being down is exactly when it matters. Each
# report is one index lookup (status, queued_at) at most every OLDEST_JOB_REFRESH_SECONDS per
# process, and the series are read with max() (one per process, the same value).
OLDEST_JOB_REFRESH_SECONDS = 10.0
_oldest_lock = threading.Lock()
_oldest_read_at = -OLDEST_JOB_REFRESH_SECONDS
_oldest_age: float | None = None
_oldest_failing = False
_exiting: bool | None = None  # None until the first read registers the exit hook
# A parent that is valid but not sampled: the lookup's database span is then dropped by any
# parent-based sampler (the default), instead of starting a trace every collection. This
# needs only the tracing API, where suppressing instrumentation would need the SDK's context
# key.
_UNTRACED = trace.NonRecordingSpan(
    trace.SpanContext(
        trace_id=0x6F6C646573745F71756575655F616765,  # "oldest_queue_age"
        span_id=0x6F6C646573745F6A,
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT),
    )
)


def oldest_queued_job_age() -> float:
    """Seconds the oldest job still queued has waited; 0 when none is queued."""
    oldest = (
        ProcessingJob.objects.filter(status=ProcessingJob.Status.QUEUED)
        .order_by("queued_at")
        .values_list("queued_at", flat=True)
        .first()
    )
    return max((timezone.now() - oldest).total_seconds(), 0.0) if oldest else 0.0


def _mark_exiting() -> None:
    global _exiting
    _exiting = True


def _read_oldest_queued_job_age() -> float | None:
    global _oldest_read_at, _oldest_age, _oldest_failing, _exiting
    with _oldest_lock:
        if _exiting is None:
            # Registered after the telemetry's own exit flush (the first read happens once it
            # is set up), so it runs before it: the final collection reports the last value
            # instead of querying a database that may already be gone.
            atexit.register(_mark_exiting)
            _exiting = False
        if _exiting or time.monotonic() - _oldest_read_at < OLDEST_JOB_REFRESH_SECONDS:
            return _oldest_age
        connection = connections[ProcessingJob.objects.db]
        opened_here = connection.connection is None
        try:
            with trace.use_span(_UNTRACED, end_on_exit=False):
                _oldest_age = oldest_queued_job_age()
            if _oldest_failing:
                logger.info("the oldest queued job can be read again")
            _oldest_failing = False
        except Exception as exc:  # the database is down: report nothing rather than a guess
            if not _oldest_failing:  # once per outage, not every collection
                logger.warning("cannot read the oldest queued job: %r", exc)
            _oldest_failing = True
            _oldest_age = None
        finally:
            # Collection runs in the reader's thread: a connection it opened would stay open
            # for good (no request ends there to close it).
            if opened_here:
                connection.close()
        _oldest_read_at = time.monotonic()
        return _oldest_age


def _observe_oldest_queued_job(options: CallbackOptions) -> Iterable[Observation]:
    age = _read_oldest_queued_job_age()
    return [] if age is None else [Observation(age)]


oldest_queued_job = _meter.create_observable_gauge(
    "processing.jobs.oldest_queued.age",
    callbacks=[_observe_oldest_queued_job],
    unit="s",
    description="How long the oldest job still queued has waited (0 when none is queued).",
)
