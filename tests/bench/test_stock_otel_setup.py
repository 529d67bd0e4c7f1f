"""bench/stock_otel: the stock modes of bench/overhead.py really run the stock OpenTelemetry
set-up, and only it: a real gunicorn and a real Celery worker started from its gunicorn
config and Celery app export their spans, as a real collector receives them, under the stock
set-up's resource, and nothing from the service's own pipeline (which would also send logs
and name the service by its settings)."""

from __future__ import annotations

import httpx
import pytest

from bench.overhead_modes import STOCK_CELERY_APP, STOCK_GUNICORN_CONFIG
from bench.stock_otel.sdk import SERVICE_NAME
from tests.harness.collector import otlp_env
from tests.harness.jobs import wait_for_job
from tests.harness.servers import api_token

pytestmark = pytest.mark.e2e


def test_it_serves_and_exports_the_stock_set_ups_spans_and_none_of_ours(collector, stack):
    # Only the stock processes export: manage.py (which creates the token's user) does not.
    otlp = otlp_env(collector, OTEL_TRACES_SAMPLER="parentbased_always_on")
    base_url = stack.start_web(config=str(STOCK_GUNICORN_CONFIG), GUNICORN_WORKERS="1", **otlp)
    stack.start_worker(app=STOCK_CELERY_APP, concurrency=1, **otlp)
    token = api_token(base_url, stack)
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"}) as api:
        response = api.post("/api/jobs", json={"data": "a job for the stock set-up"}, timeout=15)
        assert response.status_code == 202, response.text
        job = wait_for_job(api, response.json()["url"])
    assert job["status"] == "succeeded", stack.logs()

    def served_and_run(received) -> bool:
        # The Django instrumentation's own server span, the Celery instrumentation's task span.
        names = {(s["resource"].get("process.role"), s["name"]) for s in received.spans}
        return {
            ("gunicorn worker", "POST api/jobs"),
            ("celery worker child", "run/processing.process_job"),
        } <= names

    received = collector.wait_for(
        "the server span of the stock web worker and the task span of its pool process",
        served_and_run,
    )
    assert {s["resource"]["service.name"] for s in received.spans} == {SERVICE_NAME}
    # The service's pipeline also exports logs (its start-up line, the job's records).
    assert received.logs == []
