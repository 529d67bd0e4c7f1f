"""One trace tells the whole story of a job, across processes, as a real OTLP collector
(rotel-agent) receives it: gunicorn serves POST /api/jobs, a real prefork Celery worker runs
the task chain (on the run's broker: the filesystem broker in the SQLite pass, Redis in the
PostgreSQL pass) and calls the downstream service over HTTP, which gunicorn serves again."""

from __future__ import annotations

import pytest

from tests.harness.collector import otlp_env, spans_named
from tests.harness.downstreams import scripted_downstream
from tests.harness.jobs import queue_job
from tests.harness.telemetry_fixtures import new_traceparent

pytestmark = pytest.mark.e2e


def test_one_trace_spans_the_request_the_worker_and_the_downstream_call(collector, stack):
    stack.env.update(otlp_env(collector))
    base_url = stack.start_web()
    worker = stack.start_worker()
    trace_id, parent_id, traceparent = new_traceparent()

    job = queue_job(base_url, stack, traceparent, "one trace for the whole story")

    assert job["status"] == "succeeded", stack.logs()
    assert job["trace_id"] == trace_id

    def whole_story(received) -> bool:
        names = {s["name"] for s in received.spans_in(trace_id)}
        return {
            "POST /api/jobs",
            "apply_async/processing.process_job",
            "run/processing.process_job",
            "apply_async/processing.complete_job",
            "run/processing.complete_job",
            "POST /api/downstream/enrich",
        } <= names

    received = collector.wait_for(f"the spans of trace {trace_id}", whole_story)
    spans = received.spans_in(trace_id)
    (server,) = spans_named(spans, "POST /api/jobs")
    (producer,) = spans_named(spans, "apply_async/processing.process_job")
    (task,) = spans_named(spans, "run/processing.process_job")
    (complete,) = spans_named(spans, "run/processing.complete_job")
    (downstream_server,) = spans_named(spans, "POST /api/downstream/enrich")
    # The incoming traceparent is continued, then each hop is the child of the one before.
    assert server["parent_id"] == parent_id and server["kind"] == "SPAN_KIND_SERVER"
    assert server["attributes"]["http.route"] == "/api/jobs"
    assert producer["parent_id"] == server["span_id"]
    assert producer["kind"] == "SPAN_KIND_PRODUCER"
    assert task["parent_id"] == producer["span_id"] and task["kind"] == "SPAN_KIND_CONSUMER"
    (next_step,) = spans_named(spans, "apply_async/processing.complete_job")
    assert next_step["parent_id"] == task["span_id"]
    assert complete["parent_id"] == next_step["span_id"]
    (client,) = [s for s in spans if s["span_id"] == downstream_server["parent_id"]]
    assert client["kind"] == "SPAN_KIND_CLIENT" and client["parent_id"] == task["span_id"]
    assert client["attributes"]["url.full"].endswith("/api/downstream/enrich")
    # Processes: the web worker served the request, a worker child ran the task and the call.
    worker_pid = worker.popen.pid
    assert task["resource"]["process.parent_pid"] == worker_pid
    assert client["resource"]["process.pid"] == task["resource"]["process.pid"]
    assert server["resource"]["service.name"] == "observability-site"
    for span in (server, task):
        resource = span["resource"]
        assert resource["service.version"] and resource["deployment.environment"]
        assert resource["service.instance.id"]
    assert server["resource"]["service.instance.id"] != task["resource"]["service.instance.id"]

    # Metrics from both processes arrive, with exemplars that point into this trace, and the
    # request durations are recorded by route template (from whichever gunicorn worker).
    def routes(received) -> set[str]:
        return {
            point.get("http.route")
            for metric in received.metrics
            if metric["name"] == "http.server.request.duration"
            for point in metric["points"]
        }

    received = collector.wait_for(
        "metrics with exemplars in the trace, and the durations of the three routes",
        lambda r: (
            {
                "http.server.request.duration",
                "processing.jobs.queued",
                "processing.jobs.finished",
                "processing.job.duration",
            }
            <= r.metrics_with_exemplar_in(trace_id)
            and {"/api/jobs", "/api/jobs/{job_id}", "/api/downstream/enrich"} <= routes(r)
            # queue_wait comes from the pool child that ran process_job, which may export
            # after the one that completed the job: wait for it too.
            and {"http.server.active_requests", "processing.job.queue_wait"} <= r.metric_names()
        ),
    )

    # Log records from the web worker and from inside the task carry the trace.
    received = collector.wait_for(
        "log records in the trace",
        lambda r: (
            {"job queued", "processing data", "job succeeded"}
            <= {log["body"] for log in r.logs_in(trace_id)}
        ),
    )
    logs = {log["body"]: log for log in received.logs_in(trace_id)}
    # The downstream call is in the trace as its client span, not also as httpx's INFO line.
    assert not [body for body in logs if body.startswith("HTTP Request:")], sorted(logs)
    assert logs["job queued"]["span_id"] in {s["span_id"] for s in spans}
    assert logs["processing data"]["span_id"] == task["span_id"]
    assert logs["job succeeded"]["resource"]["process.parent_pid"] == worker_pid
    # ... and the same ids are on the JSON lines on stdout.
    assert f'"trace_id": "{trace_id}", "span_id": "{task["span_id"]}"' in worker.output()


def test_a_retried_task_stays_in_the_trace_of_its_job(collector, stack):
    stack.env.update(otlp_env(collector))
    base_url = stack.start_web()
    trace_id, _, traceparent = new_traceparent()
    with scripted_downstream(failures=2) as flaky:
        stack.start_worker(
            PROCESSING_DOWNSTREAM_URL=flaky.url,
            PROCESSING_JOB_MAX_RETRIES="3",
            PROCESSING_JOB_RETRY_BACKOFF="0.2",
        )
        job = queue_job(base_url, stack, traceparent, "worth retrying")

    assert job["status"] == "succeeded" and job["attempts"] == 3, stack.logs()
    received = collector.wait_for(
        "three attempts and the completion in one trace",
        lambda r: (
            len(spans_named(r.spans_in(trace_id), "run/processing.process_job")) == 3
            and spans_named(r.spans_in(trace_id), "run/processing.complete_job")
        ),
    )
    attempts = spans_named(received.spans_in(trace_id), "run/processing.process_job")
    # Each retry is queued from inside the failed attempt, so it is that attempt's grandchild.
    retries = spans_named(received.spans_in(trace_id), "apply_async/processing.process_job")
    assert len(retries) == 3  # the first enqueue from the web request, then two retries
    attempt_ids = {a["span_id"] for a in attempts}
    assert sum(1 for r in retries if r["parent_id"] in attempt_ids) == 2
    clients = [s for s in received.spans_in(trace_id) if s["kind"] == "SPAN_KIND_CLIENT"]
    statuses = sorted(
        c["attributes"].get("http.response.status_code")
        for c in clients
        if "http.response.status_code" in c["attributes"]
    )
    assert statuses == [200, 503, 503]
    received = collector.wait_for(
        "the two retry warnings in the trace",
        lambda r: (
            sum(1 for log in r.logs_in(trace_id) if log["body"].startswith("downstream")) == 2
        ),
    )
