"""Each forked process builds its own telemetry and flushes it when it exits: gunicorn
workers (post_fork / worker_exit), prefork Celery children (worker_process_init /
worker_process_shutdown) and management commands (at exit).

The export delays are set to a minute, so nothing leaves a process on the periodic
schedule within the test: what the collector receives was flushed when the process stopped.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.harness.collector import otlp_env, spans_named
from tests.harness.jobs import queue_job
from tests.harness.servers import BIN, free_port, manage, start_process, wait_until_serving
from tests.harness.telemetry_fixtures import new_traceparent

pytestmark = pytest.mark.e2e


ONLY_AT_EXIT = {
    "OTEL_BSP_SCHEDULE_DELAY": "60000",
    "OTEL_BLRP_SCHEDULE_DELAY": "60000",
    "OTEL_METRIC_EXPORT_INTERVAL": "60000",
}


def test_gunicorn_workers_and_celery_children_export_their_own_telemetry(collector, stack):
    stack.env.update(otlp_env(collector, **ONLY_AT_EXIT))
    base_url = stack.start_web(GUNICORN_WORKERS="2")
    worker = stack.start_worker(concurrency=2)
    web_master_pid = stack.processes[0].popen.pid
    trace_id, _, traceparent = new_traceparent()
    job = queue_job(base_url, stack, traceparent, "forked processes")
    assert job["status"] == "succeeded", stack.logs()
    for _ in range(10):  # some plain requests, spread over the workers by the kernel
        assert httpx.get(f"{base_url}/", timeout=10).status_code == 200
    assert collector.received().spans_in(trace_id) == []  # held in the processes until exit
    # Each worker and each pool child says where its telemetry goes, once.
    announcement = f"traces: OTLP grpc {collector.grpc_endpoint}"
    assert stack.processes[0].output().count(announcement) == 2  # two gunicorn workers
    assert worker.output().count(announcement) == 2  # two pool children

    stack.stop()

    received = collector.wait_for(
        "the spans flushed by the stopping workers",
        lambda r: (
            spans_named(r.spans_in(trace_id), "POST /api/jobs")
            and spans_named(r.spans_in(trace_id), "run/processing.complete_job")
        ),
    )
    (server,) = spans_named(received.spans_in(trace_id), "POST /api/jobs")
    (task,) = spans_named(received.spans_in(trace_id), "run/processing.process_job")
    # A gunicorn worker, not the master, recorded the request.
    assert server["resource"]["process.parent_pid"] == web_master_pid
    assert server["resource"]["process.pid"] != web_master_pid
    # A prefork child, not the main worker process, ran the task.
    assert task["resource"]["process.parent_pid"] == worker.popen.pid
    assert task["resource"]["process.pid"] != worker.popen.pid
    # Neither master nor main worker process exports anything of its own.
    exporting_pids = {s["resource"]["process.pid"] for s in received.spans}
    assert web_master_pid not in exporting_pids and worker.popen.pid not in exporting_pids
    # Metrics are flushed at exit too: the job counted in the child that finished it.
    finished = [
        m
        for m in received.metrics
        if m["name"] == "processing.jobs.finished"
        and m["resource"]["process.parent_pid"] == worker.popen.pid
    ]
    assert finished and finished[0]["points"][0] == {"outcome": "succeeded"}


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_management_command_flushes_its_telemetry_at_exit(collector, stack, protocol):
    marker = uuid.uuid4().hex
    endpoint = collector.grpc_endpoint if protocol == "grpc" else collector.http_endpoint
    env = {
        **stack.env,
        **otlp_env(collector, **ONLY_AT_EXIT),
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_SERVICE_NAME": "obs-migrate",
        "OTEL_RESOURCE_ATTRIBUTES": f"test.run={marker}",
    }

    manage(env, "migrate", "--noinput")

    received = collector.wait_for(
        "the database spans of the migrate command",
        lambda r: any(s["resource"].get("test.run") == marker for s in r.spans),
    )
    spans = [s for s in received.spans if s["resource"].get("test.run") == marker]
    assert {s["resource"]["service.name"] for s in spans} == {"obs-migrate"}
    assert any(s["kind"] == "SPAN_KIND_CLIENT" and s["name"].startswith("SELECT") for s in spans)
    statements = [s["attributes"].get("db.statement", "") for s in spans]
    assert any("django_migrations" in statement for statement in statements)


def test_runserver_builds_telemetry_in_the_autoreloader_child_only(collector, stack):
    port = free_port()
    env = {**stack.env, **otlp_env(collector)}
    runserver = start_process(
        "runserver",
        [str(BIN / "python"), "manage.py", "runserver", f"127.0.0.1:{port}"],
        env,
        stack.log_dir,
    )
    stack.processes.append(runserver)
    wait_until_serving(f"http://127.0.0.1:{port}/health", runserver)
    trace_id, _, traceparent = new_traceparent()

    response = httpx.get(f"http://127.0.0.1:{port}/", headers={"traceparent": traceparent})

    assert response.status_code == 200
    received = collector.wait_for("the runserver span", lambda r: r.spans_in(trace_id))
    (span,) = received.spans_in(trace_id)
    assert span["name"] == "GET /"
    # The autoreloader (the process we started) only watches files; its child serves.
    assert span["resource"]["process.parent_pid"] == runserver.popen.pid
    assert runserver.output().count("telemetry for observability-site") == 1
