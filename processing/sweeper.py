"""The job sweeper: the safety net under every failure that can strand an accepted job.

Run by Celery beat every PROCESSING_SWEEP_INTERVAL_SECONDS (the task processing.sweep_jobs).
Each job row carries a lease (ProcessingJob.lease_expires_at): how long its present state is
vouched for. A job whose lease ran out was lost somewhere, and the sweeper settles it:
- running, with its result stored: processing finished but the follow-up step was lost (the
  broker was cut when it was queued): it is marked succeeded with that result;
- running, without a result: its worker was killed (SIGKILL of the whole worker: the
  broker hands the message out again only after its visibility timeout, an hour), or its
  last write met a database outage: it is queued again, or failed once it has had
  PROCESSING_JOB_MAX_ATTEMPTS attempts (a job that kills its worker each time);
- queued, never started: its message was lost (acknowledged by a task that could not
  reach the database): it is queued again.
Why this design (and not an outbox or a short visibility timeout): the job row is already
the source of truth and every step is idempotent (a second copy of a message finds the job
running under another lease, or finished, and stops), so one periodic pass over an indexed
(status, lease_expires_at) covers every case with no extra process but beat. The bound is
the lease plus one interval.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from processing.models import ProcessingJob
from processing.services import job_mark_failed, job_mark_succeeded, queued_lease

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass
class SweepReport:
    completed: int = 0
    requeued: int = 0
    failed: int = 0

    def __bool__(self) -> bool:
        return bool(self.completed or self.requeued or self.failed)


def sweep_jobs(*, enqueue: Callable[[object], None]) -> SweepReport:
    """Settle every job whose lease ran out; `enqueue(job_id)` sends a job's task chain."""
    report = SweepReport()
    now = timezone.now()
    expired = ProcessingJob.objects.filter(
        status__in=[ProcessingJob.Status.QUEUED, ProcessingJob.Status.RUNNING],
        lease_expires_at__lt=now,
    ).order_by("lease_expires_at")
    for job_id in list(expired.values_list("pk", flat=True)[:BATCH]):
        _settle(job_id, enqueue, report)
    if report:
        logger.warning(
            "job sweeper settled lost jobs",
            extra={
                "completed": report.completed,
                "requeued": report.requeued,
                "failed": report.failed,
            },
        )
    return report


def _settle(job_id, enqueue: Callable[[object], None], report: SweepReport) -> None:
    with transaction.atomic():
        # skip_locked: a job a worker holds right now (mark_running) is not touched.
        job = (
            ProcessingJob.objects.select_for_update(skip_locked=True)
            .filter(pk=job_id, lease_expires_at__lt=timezone.now())
            .exclude(status__in=ProcessingJob.FINISHED)
            .first()
        )
        if job is None:
            return
        if job.status == ProcessingJob.Status.RUNNING and job.result is not None:
            job_mark_succeeded(job_id=job.pk, result=job.result)
            report.completed += 1
            return
        if job.attempts >= settings.PROCESSING_JOB_MAX_ATTEMPTS:
            job_mark_failed(
                job_id=job.pk,
                error=f"gave up after {job.attempts} attempts: the worker running the job "
                "was lost each time (killed, or cut from the database or broker)",
            )
            report.failed += 1
            return
        job.status = ProcessingJob.Status.QUEUED
        job.lease_owner = ""
        job.lease_expires_at = timezone.now() + queued_lease()
        job.save(update_fields=["status", "lease_owner", "lease_expires_at"])
        transaction.on_commit(lambda: _send(job.pk, enqueue))
        report.requeued += 1


def _send(job_id, enqueue: Callable[[object], None]) -> None:
    try:
        enqueue(job_id)
    except Exception as exc:  # the broker: the next sweep tries again
        logger.warning("could not re-queue job", extra={"job_id": str(job_id), "error": repr(exc)})
        ProcessingJob.objects.filter(pk=job_id, status=ProcessingJob.Status.QUEUED).update(
            lease_expires_at=timezone.now()
        )
        return
    logger.info("job re-queued by the sweeper", extra={"job_id": str(job_id)})
