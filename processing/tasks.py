"""Celery tasks for processing jobs. They are thin: load, call a service, retry on
downstream failure. A job is a chain: process_job -> complete_job."""

from __future__ import annotations

import logging
import random
from typing import Any

from celery import Task, chain, shared_task
from celery.canvas import Signature
from celery.exceptions import Ignore
from django.conf import settings

from processing import services
from processing.errors import DownstreamUnavailable

logger = logging.getLogger(__name__)


class JobTask(Task):
    """Marks the job failed when a task of its chain fails for good (retries exhausted,
    a permanent downstream refusal, or a bug)."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        job_id = kwargs.get("job_id")
        if job_id is not None:
            services.job_mark_failed(job_id=job_id, error=f"{type(exc).__name__}: {exc}")


def retry_countdown(retries: int) -> float:
    """Exponential backoff with jitter: base * 2**retries, capped, times 0.5-1.0."""
    ceiling = min(
        settings.PROCESSING_JOB_RETRY_BACKOFF_MAX,
        settings.PROCESSING_JOB_RETRY_BACKOFF * (2**retries),
    )
    return ceiling * random.uniform(0.5, 1.0)


@shared_task(bind=True, base=JobTask, name="processing.process_job", acks_late=True)
def process_job(self: Task, *, job_id: str) -> dict[str, Any]:
    job = services.job_mark_running(job_id=job_id)
    if job is None:
        raise Ignore()  # gone or already finished (a redelivery): stop the chain
    try:
        return services.process_data(data=job.data)
    except DownstreamUnavailable as exc:
        logger.warning(
            "downstream unavailable, will retry",
            extra={"job_id": job_id, "attempt": job.attempts},
        )
        # Raises Retry; once max_retries is reached it re-raises exc, and on_failure runs.
        raise self.retry(
            exc=exc,
            countdown=retry_countdown(self.request.retries),
            max_retries=settings.PROCESSING_JOB_MAX_RETRIES,
        ) from exc


@shared_task(base=JobTask, name="processing.complete_job")
def complete_job(outcome: dict[str, Any], *, job_id: str) -> None:
    """The follow-up step: store the result and announce it. The job keeps the result itself
    (analysis and enrichment); how long the work took is in its timings."""
    services.job_mark_succeeded(job_id=job_id, result=outcome["result"])


def job_workflow(job_id) -> Signature:
    return chain(process_job.si(job_id=str(job_id)), complete_job.s(job_id=str(job_id)))
