"""Functions that do the processing and change job state. Views and tasks call these; the
services do not know whether they run in a request or in a worker. Creating and queueing a
job is in processing.jobs (it needs the tasks, which need these)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from opentelemetry import trace

from processing import downstream, metrics
from processing.analysis import analyze
from processing.models import ProcessingJob

logger = logging.getLogger(__name__)


def process_data(*, data: str) -> dict[str, Any]:
    """Analyse the data, enrich it through the downstream service, and time the whole."""
    started = time.perf_counter()
    logger.info("processing data", extra={"data_chars": len(data)})
    analysis = analyze(data)
    enrichment = downstream.enrich(analysis)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return {
        "result": {"analysis": analysis, "enrichment": enrichment},
        "processing_time_ms": round(elapsed_ms, 3),
    }


def current_trace_id() -> str:
    """The trace id of the current span as 32 hex digits, or "" outside a valid trace."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else ""


def queued_lease() -> timedelta:
    """How long a queued job may wait for its first attempt before it counts as lost."""
    return timedelta(seconds=settings.PROCESSING_JOB_QUEUED_TIMEOUT_SECONDS)


def running_lease() -> timedelta:
    """How long an attempt may run before its worker counts as lost."""
    return timedelta(seconds=settings.PROCESSING_JOB_LEASE_SECONDS)


def job_mark_running(*, job_id, owner: str = "") -> ProcessingJob | None:
    """Count one more attempt and take the job's lease for `owner` (the task id); None when
    the job is gone, already finished, or running under another delivery's valid lease (a
    duplicate message: the job must run once)."""
    with transaction.atomic():
        job = ProcessingJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        now = timezone.now()
        if (
            job.status == ProcessingJob.Status.RUNNING
            and job.lease_owner != owner
            and job.lease_expires_at is not None
            and job.lease_expires_at > now
        ):
            logger.info("job already running elsewhere", extra={"job_id": str(job_id)})
            return None
        job.status = ProcessingJob.Status.RUNNING
        job.attempts += 1
        first_attempt = job.started_at is None
        job.started_at = job.started_at or now
        job.lease_owner = owner[:64]
        job.lease_expires_at = now + running_lease()
        job.save(
            update_fields=["status", "attempts", "started_at", "lease_owner", "lease_expires_at"]
        )
    if first_attempt:
        metrics.job_queue_wait.record((job.started_at - job.queued_at).total_seconds())
    return job


def job_store_result(*, job_id, result: dict[str, Any]) -> None:
    """Keep a finished attempt's result on the job before its follow-up step is queued: if
    that step is lost (the broker was cut), the result is not (settled by the sweeper or
    the failure handler)."""
    ProcessingJob.objects.filter(pk=job_id, status=ProcessingJob.Status.RUNNING).update(
        result=result, lease_expires_at=timezone.now() + running_lease()
    )


def job_settle_after_failure(*, job_id, error: str, transient: bool) -> None:
    """What a failed task leaves of its job. Processed already (only its follow-up could
    not be queued): succeeded with the stored result. A transient cause (database,
    broker): left as it is, for the sweeper once the lease runs out. Else: failed."""
    job = ProcessingJob.objects.filter(pk=job_id).only("status", "result").first()
    if job is None or job.is_finished:
        return
    if job.status == ProcessingJob.Status.RUNNING and job.result is not None:
        job_mark_succeeded(job_id=job_id, result=job.result)
    elif transient:
        logger.warning(
            "job attempt interrupted, the sweeper will resume it",
            extra={"job_id": str(job_id), "error": error[:200]},
        )
    else:
        job_mark_failed(job_id=job_id, error=error)


def job_mark_succeeded(*, job_id, result: dict[str, Any]) -> None:
    updated = (
        ProcessingJob.objects.filter(pk=job_id)
        .exclude(status__in=ProcessingJob.FINISHED)
        .update(
            status=ProcessingJob.Status.SUCCEEDED,
            result=result,
            error="",
            finished_at=timezone.now(),
            lease_expires_at=None,
        )
    )
    if updated:
        _record_finished(job_id, outcome="succeeded")
        logger.info("job succeeded", extra={"job_id": str(job_id)})


def job_mark_failed(*, job_id, error: str) -> None:
    updated = (
        ProcessingJob.objects.filter(pk=job_id)
        .exclude(status=ProcessingJob.Status.SUCCEEDED)
        .update(
            status=ProcessingJob.Status.FAILED,
            error=error[:4000],
            finished_at=timezone.now(),
            lease_expires_at=None,
        )
    )
    if updated:
        _record_finished(job_id, outcome="failed")
        logger.warning("job failed", extra={"job_id": str(job_id), "error": error[:200]})


def _record_finished(job_id, *, outcome: str) -> None:
    metrics.jobs_finished.add(1, {"outcome": outcome})
    times = ProcessingJob.objects.filter(pk=job_id).values("started_at", "finished_at").first()
    if times and times["started_at"] and times["finished_at"]:
        seconds = (times["finished_at"] - times["started_at"]).total_seconds()
        metrics.job_duration.record(max(seconds, 0.0), {"outcome": outcome})
