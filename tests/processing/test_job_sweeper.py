"""The job sweeper in-process (processing.sweeper): which stranded jobs it completes, queues
again or fails, and which it leaves alone. End to end in test_jobs_survive_*.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from processing import services, sweeper
from processing.models import ProcessingJob
from tests.factories import ProcessingJobFactory

pytestmark = pytest.mark.django_db

RESULT = {"analysis": {"words": 1}, "enrichment": {"size_class": "short"}}


def past(seconds: float = 1) -> object:
    return timezone.now() - timedelta(seconds=seconds)


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    queued: list = []

    def sweep():
        with django_capture_on_commit_callbacks(execute=True):
            report = sweeper.sweep_jobs(enqueue=queued.append)
        return report

    sweep.queued = queued  # type: ignore[attr-defined]
    return sweep


def test_a_processed_job_whose_follow_up_was_lost_is_completed_with_its_result(sent):
    job = ProcessingJobFactory(status="running", attempts=1, result=RESULT, lease_expires_at=past())
    report = sent()
    job.refresh_from_db()
    assert (job.status, job.result, report.completed) == ("succeeded", RESULT, 1)
    assert sent.queued == []


def test_a_running_job_whose_worker_was_lost_is_queued_again(sent):
    job = ProcessingJobFactory(
        status="running", attempts=1, lease_owner="t1", lease_expires_at=past()
    )
    report = sent()
    job.refresh_from_db()
    assert (job.status, job.lease_owner, report.requeued) == ("queued", "", 1)
    assert job.lease_expires_at > timezone.now()
    assert sent.queued == [job.pk]


def test_a_queued_job_whose_message_was_lost_is_sent_again(sent):
    job = ProcessingJobFactory(status="queued", lease_expires_at=past())
    assert sent().requeued == 1
    assert sent.queued == [job.pk]


def test_a_job_that_keeps_losing_its_worker_is_failed_with_the_reason(sent, settings):
    settings.PROCESSING_JOB_MAX_ATTEMPTS = 3
    job = ProcessingJobFactory(status="running", attempts=3, lease_expires_at=past())
    assert sent().failed == 1
    job.refresh_from_db()
    assert job.status == "failed" and "gave up after 3 attempts" in job.error
    assert sent.queued == []


def test_jobs_within_their_lease_and_finished_jobs_are_left_alone(sent):
    future = timezone.now() + timedelta(minutes=5)
    running = ProcessingJobFactory(status="running", attempts=1, lease_expires_at=future)
    queued = ProcessingJobFactory(status="queued", lease_expires_at=future)
    done = ProcessingJobFactory(status="succeeded", result=RESULT, lease_expires_at=None)
    assert not sent()
    for job, status in ((running, "running"), (queued, "queued"), (done, "succeeded")):
        job.refresh_from_db()
        assert job.status == status


def test_a_duplicate_delivery_does_not_run_a_job_leased_to_another(settings):
    job = ProcessingJobFactory(status="queued")
    assert services.job_mark_running(job_id=job.pk, owner="first") is not None
    assert services.job_mark_running(job_id=job.pk, owner="second") is None
    # The lease holder's own retry or redelivery continues.
    again = services.job_mark_running(job_id=job.pk, owner="first")
    assert again is not None and again.attempts == 2
    ProcessingJob.objects.filter(pk=job.pk).update(lease_expires_at=past())
    assert services.job_mark_running(job_id=job.pk, owner="second") is not None
