"""A small store for the console's page tests: a job's trace across web, worker and the
downstream call (with an error and its logs), a fast request, a slow task, an old trace."""

from __future__ import annotations

import json
from dataclasses import dataclass

from telemetry.models import StoredProcess, StoredSpan
from tests.telemetry.explorer.support import now_us, stored_log, stored_span

SECOND = 1_000_000
JOB_TRACE = "0af7651916cd43dd8448eb211c80319c"
FAST_TRACE = "1" * 32
SLOW_TRACE = "2" * 32
OLD_TRACE = "3" * 32


@dataclass
class Fixture:
    now: int
    job_server: StoredSpan
    job_task: StoredSpan
    job_client: StoredSpan
    downstream: StoredSpan


def process(instance: str, role: str, pid: int) -> StoredProcess:
    return StoredProcess.objects.create(
        instance_id=instance,
        service_name="observability-site",
        process_role=role,
        host_name="host-1",
        pid=pid,
        resource=json.dumps(
            {
                "service.name": "observability-site",
                "process.pid": pid,
                "service.instance.id": instance,
            }
        ),
        first_seen_us=now_us(),
        last_seen_us=now_us(),
    )


def fill_store() -> Fixture:
    now = now_us()
    process("web-1", "web", 101)
    process("worker-1", "worker", 201)
    start = now - 10 * SECOND
    server = stored_span(
        trace_id=JOB_TRACE,
        span_id="a" * 16,
        parent_span_id="b7ad6b7169203331",
        parent_is_remote=True,
        name="POST /api/jobs",
        kind="server",
        instance_id="web-1",
        start_us=start,
        duration_us=40_000,
        attributes=json.dumps({"http.route": "/api/jobs", "http.response.status_code": 202}),
    )
    stored_span(
        trace_id=JOB_TRACE,
        span_id="c" * 16,
        parent_span_id="a" * 16,
        name="INSERT",
        kind="client",
        instance_id="web-1",
        start_us=start + 5_000,
        duration_us=1_000,
        attributes=json.dumps({"db.statement": "INSERT INTO processing_processingjob ..."}),
    )
    producer = stored_span(
        trace_id=JOB_TRACE,
        span_id="d" * 16,
        parent_span_id="a" * 16,
        name="apply_async/processing.process_job",
        kind="producer",
        instance_id="web-1",
        start_us=start + 30_000,
        duration_us=2_000,
        attributes="{}",
    )
    task = stored_span(
        trace_id=JOB_TRACE,
        span_id="e" * 16,
        parent_span_id=producer.span_id,
        parent_is_remote=True,
        name="run/processing.process_job",
        kind="consumer",
        process_role="worker",
        instance_id="worker-1",
        start_us=start + 100_000,
        duration_us=300_000,
        status_code=StoredSpan.Status.ERROR,
        status_message="boom",
        attributes=json.dumps(
            {"celery.task_name": "processing.process_job", "profiling.run_id": 999_999}
        ),
        events=json.dumps(
            [
                {
                    "name": "exception",
                    "time_us": start + 390_000,
                    "attributes": {
                        "exception.type": "DownstreamUnavailable",
                        "exception.message": "refused",
                        "exception.stacktrace": "Traceback (most recent call last):\\n  boom",
                    },
                }
            ]
        ),
    )
    client = stored_span(
        trace_id=JOB_TRACE,
        span_id="f" * 16,
        parent_span_id=task.span_id,
        name="POST",
        kind="client",
        process_role="worker",
        instance_id="worker-1",
        start_us=start + 150_000,
        duration_us=20_000,
        attributes=json.dumps({"url.full": "http://127.0.0.1:8000/api/downstream/enrich"}),
    )
    downstream = stored_span(
        trace_id=JOB_TRACE,
        span_id="9" * 16,
        parent_span_id=client.span_id,
        parent_is_remote=True,
        name="POST /api/downstream/enrich",
        kind="server",
        instance_id="web-1",
        start_us=start + 155_000,
        duration_us=10_000,
        attributes=json.dumps({"http.route": "/api/downstream/enrich"}),
    )
    stored_log(
        trace_id=JOB_TRACE,
        span_id=server.span_id,
        time_us=start + 35_000,
        body="job queued",
        attributes=json.dumps({"job_id": "j-1"}),
    )
    stored_log(
        trace_id=JOB_TRACE,
        span_id=task.span_id,
        time_us=start + 120_000,
        body="processing data",
        logger="processing.services",
        process_role="worker",
        instance_id="worker-1",
    )
    stored_log(
        trace_id=JOB_TRACE,
        span_id=task.span_id,
        time_us=start + 380_000,
        body="downstream unavailable, will retry",
        level="WARN",
        severity_number=13,
        logger="processing.tasks",
        process_role="worker",
        instance_id="worker-1",
    )
    stored_span(
        trace_id=FAST_TRACE,
        name="GET /api/users/{user_id}",
        instance_id="web-1",
        start_us=now - 5 * SECOND,
        duration_us=3_000,
    )
    stored_span(
        trace_id=SLOW_TRACE,
        name="run/processing.complete_job",
        kind="consumer",
        parent_is_remote=True,
        parent_span_id="7" * 16,
        process_role="worker",
        instance_id="worker-1",
        start_us=now - 3 * SECOND,
        duration_us=2 * SECOND,
        attributes="{}",
    )
    stored_span(
        trace_id=OLD_TRACE,
        name="GET /api/jobs/{job_id}",
        instance_id="web-1",
        start_us=now - 7200 * SECOND,
        duration_us=1_000,
    )
    stored_log(
        body="an old line",
        time_us=now - 7200 * SECOND,
        logger="django.request",
        level="ERROR",
        severity_number=17,
    )
    return Fixture(
        now=now, job_server=server, job_task=task, job_client=client, downstream=downstream
    )
