"""SIGTERM, as an orchestrator sends before it stops a container: gunicorn finishes the
requests in flight, and the Celery worker finishes its task (what it queued next is kept in
the broker for the next worker if it stopped consuming first)."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from tests.harness.downstreams import scripted_downstream
from tests.harness.servers import api_token

pytestmark = pytest.mark.e2e


def test_gunicorn_finishes_in_flight_requests_on_sigterm(stack):
    with scripted_downstream(delay=2.0) as downstream:
        base_url = stack.start_web(PROCESSING_DOWNSTREAM_URL=downstream.url)
        web = stack.processes[-1]
        token = api_token(base_url, stack)
        answers: list[httpx.Response] = []

        def call() -> None:
            answers.append(
                httpx.post(
                    f"{base_url}/api/process",
                    json={"data": "in flight"},
                    headers={"Authorization": f"Token {token}"},
                    timeout=30,
                )
            )

        caller = threading.Thread(target=call)
        caller.start()
        assert downstream.started.wait(15)
        os.kill(web.popen.pid, signal.SIGTERM)
        caller.join(30)
        assert web.popen.wait(30) == 0, web.output()[-3000:]

    assert [a.status_code for a in answers] == [200]
    assert answers[0].json()["result"]["enrichment"]["source"] == "scripted"


def test_the_worker_finishes_its_task_on_sigterm_and_the_chain_goes_on_later(stack):
    base_url = stack.start_web()
    token = api_token(base_url, stack)
    client = httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"})
    with scripted_downstream(delay=2.0) as downstream:
        worker = stack.start_worker(PROCESSING_DOWNSTREAM_URL=downstream.url)
        queued = client.post("/api/jobs", json={"data": "finish me"}).json()
        assert downstream.started.wait(30), stack.logs()
        os.kill(worker.popen.pid, signal.SIGTERM)  # warm shutdown
        assert worker.popen.wait(60) == 0, worker.output()[-3000:]
        assert downstream.calls == 1
        assert "processing.process_job" in worker.output()
        # The follow-up step may or may not have been taken before the worker stopped
        # consuming; if not, its message waits in the broker for the next worker.
        if client.get(queued["url"]).json()["status"] == "running":
            stack.start_worker(PROCESSING_DOWNSTREAM_URL=downstream.url)
        deadline = time.monotonic() + 30
        while (job := client.get(queued["url"]).json())["status"] == "running":
            assert time.monotonic() < deadline, stack.logs()
            time.sleep(0.3)

    assert job["status"] == "succeeded"
    assert job["attempts"] == 1  # the finished step was not run again
    assert downstream.calls == 1
