"""Celery's own per-task log lines ("Task ... received", "Task ... succeeded in 0.01s: <the
return value>") stay out of a real worker's logs unless CELERY_TASK_LOG_LEVEL asks for them:
the consumer spans record each task, the processing app logs each job's steps, and the
return value is the job's result (settings.CELERY_TASK_LOG_LEVEL)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.harness.jobs import wait_for_job
from tests.harness.log_lines import json_records
from tests.harness.servers import api_token

pytestmark = pytest.mark.e2e

CELERY_TASK_LOGGERS = {"celery.app.trace", "celery.worker.strategy"}


def _run_jobs(stack, count: int, **worker_env: str) -> list[dict]:
    """`count` jobs one after another through a worker with one pool process; the worker's
    log records once the last job's own "processing data" line is out. One pool process
    runs its tasks in order, so by then every earlier task's lines are written too."""
    base_url = stack.start_web()
    worker = stack.start_worker(concurrency=1, **worker_env)
    token = api_token(base_url, stack)
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=15
    ) as client:
        for n in range(count):
            queued = client.post("/api/jobs", json={"data": f"job {n} of {count}"})
            assert queued.status_code == 202, queued.text
            job = wait_for_job(client, queued.json()["url"])
            assert job["status"] == "succeeded", stack.logs()
    deadline = time.monotonic() + 30
    while True:
        records = json_records(worker.output())
        if sum(r["message"] == "processing data" for r in records) >= count:
            return records
        assert time.monotonic() < deadline, worker.output()
        time.sleep(0.2)


def test_a_worker_logs_the_jobs_steps_and_not_celerys_per_task_lines(stack):
    records = _run_jobs(stack, 2)

    messages = [r["message"] for r in records]
    assert messages.count("job succeeded") >= 1, messages  # the first job's, at least
    assert not [r for r in records if r["logger"] in CELERY_TASK_LOGGERS], messages


def test_celery_task_log_level_info_brings_the_lines_back(stack):
    records = _run_jobs(stack, 2, CELERY_TASK_LOG_LEVEL="info")

    celery_lines = [r["message"] for r in records if r["logger"] in CELERY_TASK_LOGGERS]
    # The first job's two tasks, received and succeeded, are all out by now.
    assert sum(" received" in m for m in celery_lines) >= 2, celery_lines
    assert sum(" succeeded in " in m for m in celery_lines) >= 2, celery_lines
