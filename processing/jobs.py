"""Creating a job and queueing its task chain."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from processing import metrics
from processing.errors import JobNotQueued
from processing.models import ProcessingJob
from processing.services import current_trace_id, job_mark_failed, queued_lease
from processing.tasks import job_workflow

logger = logging.getLogger(__name__)


def job_create(*, data: str, created_by=None) -> ProcessingJob:
    """Store a job and queue its task chain once the row is committed.

    The job keeps the trace id of the request that created it: the worker continues that
    trace. If the broker refuses the message, the job is kept, marked failed with the reason,
    and JobNotQueued tells the caller.
    """
    with transaction.atomic():
        job = ProcessingJob.objects.create(
            data=data,
            created_by=created_by,
            trace_id=current_trace_id(),
            lease_expires_at=timezone.now() + queued_lease(),
        )
        transaction.on_commit(lambda: job_enqueue(job))
    return job


def job_enqueue(job: ProcessingJob) -> None:
    try:
        job_workflow(job.pk).apply_async()
    except OperationalError as exc:
        logger.error("could not queue job", extra={"job_id": str(job.pk)})
        job_mark_failed(job_id=job.pk, error=f"could not queue the job: {exc}")
        job.refresh_from_db()
        raise JobNotQueued("The job was stored but could not be queued; try again.") from exc
    metrics.jobs_queued.add(1)
    logger.info("job queued", extra={"job_id": str(job.pk)})
