"""Celery tasks for processing jobs. They are thin: load, call a service, retry on
downstream failure. A job is a chain: process_job -> complete_job; processing.sweep_jobs
(sent by Celery beat) settles the jobs a failure stranded (processing.sweeper).

Durability: every database write of a task waits out an outage (common.db_retry, up to
PROCESSING_JOB_DB_WAIT_SECONDS); a task that fails anyway for a transient cause leaves its
job to the sweeper rather than failing it; a job whose result is stored is completed even
if its follow-up step could not be queued. A second copy of a message (a redelivery after
the sweeper re-queued the job) finds the job finished or leased to another delivery and
stops: a job runs to one final state, once.
"""

from __future__ import annotations

import functools
import logging
import random
from typing import Any

from celery import Task, chain, shared_task
from celery.canvas import Signature
from celery.exceptions import Ignore
from django.conf import settings
from kombu.exceptions import OperationalError as BrokerError

from common.db_retry import DATABASE_ERRORS, call_with_database_retry
from processing import services, sweeper
from processing.errors import DownstreamUnavailable

logger = logging.getLogger(__name__)

# Causes that say nothing about the job: the job is resumed later, not failed.
TRANSIENT_ERRORS = (*DATABASE_ERRORS, BrokerError, ConnectionError, TimeoutError)


def durably(fn, /, **kwargs):
    """fn(**kwargs), waiting out a database outage (PROCESSING_JOB_DB_WAIT_SECONDS)."""
    return call_with_database_retry(
        functools.partial(fn, **kwargs), wait_seconds=settings.PROCESSING_JOB_DB_WAIT_SECONDS
    )


class JobTask(Task):
    """Settles the job when a task of its chain fails for good: failed (retries exhausted,
    a permanent downstream refusal, a bug), succeeded if its result was already stored, or
    left for the sweeper when the cause was the database or the broker."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        job_id = kwargs.get("job_id")
        if job_id is None:
            return
        try:
            durably(
                services.job_settle_after_failure,
                job_id=job_id,
                error=f"{type(exc).__name__}: {exc}",
                transient=isinstance(exc, TRANSIENT_ERRORS),
            )
        except DATABASE_ERRORS:
            logger.warning(
                "could not record the job's failure; the sweeper will settle it",
                extra={"job_id": str(job_id)},
            )


def retry_countdown(retries: int) -> float:
    """Exponential backoff with jitter: base * 2**retries, capped, times 0.5-1.0."""
    ceiling = min(
        settings.PROCESSING_JOB_RETRY_BACKOFF_MAX,
        settings.PROCESSING_JOB_RETRY_BACKOFF * (2**retries),
    )
    return ceiling * random.uniform(0.5, 1.0)


@shared_task(bind=True, base=JobTask, name="processing.process_job", acks_late=True)
def process_job(self: Task, *, job_id: str) -> dict[str, Any]:
    job = durably(services.job_mark_running, job_id=job_id, owner=self.request.id or "")
    if job is None:
        raise Ignore()  # gone, finished, or running under another delivery: stop the chain
    if job.result is not None:
        # Processed by an earlier delivery whose follow-up was lost: only the last step is left.
        return {"result": job.result}
    try:
        outcome = services.process_data(data=job.data)
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
    durably(services.job_store_result, job_id=job_id, result=outcome["result"])
    return outcome


@shared_task(base=JobTask, name="processing.complete_job", acks_late=True)
def complete_job(outcome: dict[str, Any], *, job_id: str) -> None:
    """The follow-up step: store the result and announce it. The job keeps the result itself
    (analysis and enrichment); how long the work took is in its timings."""
    durably(services.job_mark_succeeded, job_id=job_id, result=outcome["result"])


def job_workflow(job_id) -> Signature:
    return chain(process_job.si(job_id=str(job_id)), complete_job.s(job_id=str(job_id)))


def _enqueue(job_id) -> None:
    job_workflow(job_id).apply_async()


@shared_task(name="processing.sweep_jobs", ignore_result=True)
def sweep_jobs() -> dict[str, int]:
    """Beat's periodic task: settle the jobs whose lease ran out (processing.sweeper)."""
    report = sweeper.sweep_jobs(enqueue=_enqueue)
    return {"completed": report.completed, "requeued": report.requeued, "failed": report.failed}
