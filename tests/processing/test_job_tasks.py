"""The job tasks run in-process (Celery's eager apply): state transitions, retries with
backoff, and the final failure. The same paths run in a real worker in
test_jobs_in_a_real_worker.py."""

from __future__ import annotations

import pytest

from processing import tasks
from processing.errors import DownstreamUnavailable
from tests.factories import ProcessingJobFactory
from tests.harness.servers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_downstream(settings):
    settings.PROCESSING_DOWNSTREAM_URL = f"http://127.0.0.1:{free_port()}/enrich"
    settings.PROCESSING_JOB_RETRY_BACKOFF = 0


def test_retries_exhausted_mark_the_job_failed_and_keep_the_error(dead_downstream, settings):
    settings.PROCESSING_JOB_MAX_RETRIES = 2
    job = ProcessingJobFactory()
    # Eagerly applied retries run nested and re-raise the last error to the caller.
    with pytest.raises(DownstreamUnavailable):
        tasks.job_workflow(job.pk).apply()
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.attempts == 3
    assert job.error.startswith("DownstreamUnavailable: downstream http://127.0.0.1:")
    assert job.finished_at is not None


def test_a_successful_chain_stores_the_result(settings, live_server):
    settings.PROCESSING_DOWNSTREAM_URL = f"{live_server.url}/api/downstream/enrich"
    job = ProcessingJobFactory(data="alpha beta")
    tasks.job_workflow(job.pk).apply()
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert job.attempts == 1
    assert job.result["analysis"]["words"] == 2  # the result itself, not result.result
    assert job.started_at <= job.finished_at


def test_a_finished_job_is_not_run_again(dead_downstream):
    # A redelivered message (acks_late) must not redo or overwrite a finished job.
    job = ProcessingJobFactory(status="succeeded", result={"kept": True})
    tasks.job_workflow(job.pk).apply()
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert job.result == {"kept": True}
    assert job.attempts == 0


@pytest.mark.parametrize("retries", [0, 1, 2, 3, 10])
def test_the_backoff_grows_and_is_capped(settings, retries):
    settings.PROCESSING_JOB_RETRY_BACKOFF = 2
    settings.PROCESSING_JOB_RETRY_BACKOFF_MAX = 10
    ceiling = min(10, 2 * 2**retries)
    for _ in range(20):
        assert ceiling / 2 <= tasks.retry_countdown(retries) <= ceiling
