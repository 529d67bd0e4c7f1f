"""A job keeps the trace of the request that queued it; the processing metrics count jobs.
In-process, real SDK and the run's real broker; spans and metrics read from memory."""

from __future__ import annotations

import logging

import pytest
from celery import current_app
from django.test import Client, override_settings
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from processing import jobs, services
from processing.models import ProcessingJob
from tests.factories import ProcessingJobFactory, UserFactory

pytestmark = pytest.mark.django_db

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@pytest.fixture
def empty_queue():
    name = current_app.conf.task_default_queue

    def purge():
        with current_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(name)

    purge()
    yield
    purge()


@pytest.mark.django_db(transaction=True)  # a real commit: on_commit runs inside the request
def test_a_job_keeps_the_trace_of_the_request_that_queued_it(otel, empty_queue):
    client = Client()
    client.force_login(UserFactory())
    queued_before = otel.count("processing.jobs.queued")

    response = client.post(
        "/api/jobs",
        {"data": "a traced job"},
        content_type="application/json",
        HTTP_TRACEPARENT=TRACEPARENT,
    )

    assert response.status_code == 202
    assert response.json()["trace_id"] == TRACE_ID
    assert ProcessingJob.objects.get(pk=response.json()["id"]).trace_id == TRACE_ID
    spans = {s.name: s for s in otel.finished_spans()}
    server, producer = spans["POST /api/jobs"], spans["apply_async/processing.process_job"]
    assert producer.kind == SpanKind.PRODUCER
    assert producer.context.trace_id == server.context.trace_id == int(TRACE_ID, 16)
    assert producer.parent.span_id == server.context.span_id
    assert otel.count("processing.jobs.queued") == queued_before + 1


def test_a_job_created_outside_a_trace_has_no_trace_id(otel, empty_queue):
    job = jobs.job_create(data="no trace here")
    assert job.trace_id == ""


def test_the_job_lifecycle_records_queue_wait_duration_and_outcome(otel, empty_queue):
    job = jobs.job_create(data="measured")
    finished_before = otel.count("processing.jobs.finished", outcome="succeeded")

    services.job_mark_running(job_id=job.pk)
    services.job_mark_succeeded(job_id=job.pk, result={"ok": True})

    assert otel.count("processing.jobs.finished", outcome="succeeded") == finished_before + 1
    (wait,) = otel.metric_points("processing.job.queue_wait")
    assert wait.count >= 1 and wait.min >= 0
    durations = [
        p
        for p in otel.metric_points("processing.job.duration")
        if p.attributes == {"outcome": "succeeded"}
    ]
    assert durations and durations[0].count >= 1
    assert list(durations[0].explicit_bounds)[:3] == [0.005, 0.01, 0.025]  # seconds


def test_logs_inside_a_span_carry_its_trace(otel):
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("processing.services").warning("inside", extra={"job_id": "j1"})
    (record,) = [
        r.log_record for r in otel.logs.get_finished_logs() if r.log_record.body == "inside"
    ]
    assert record.trace_id == span.get_span_context().trace_id
    assert record.span_id == span.get_span_context().span_id
    assert record.attributes["job_id"] == "j1"


@override_settings(TRACE_VIEWER_URL="https://traces.example.com/trace/{trace_id}")
def test_the_job_admin_links_to_the_trace_viewer(otel, empty_queue):
    job = ProcessingJobFactory(trace_id=TRACE_ID)
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(f"/admin/processing/processingjob/{job.pk}/change/").content.decode()
    listing = client.get("/admin/processing/processingjob/").content.decode()

    link = f'href="https://traces.example.com/trace/{TRACE_ID}"'
    assert link in page and link in listing


def test_the_job_admin_shows_the_bare_trace_id_without_a_viewer(otel, empty_queue):
    job = ProcessingJobFactory(trace_id=TRACE_ID)
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(f"/admin/processing/processingjob/{job.pk}/change/").content.decode()

    assert TRACE_ID in page and "traces.example.com" not in page


def test_a_task_that_fails_for_good_counts_as_an_error_and_a_failed_job(otel, settings):
    from processing import tasks
    from tests.harness.servers import free_port

    settings.PROCESSING_DOWNSTREAM_URL = f"http://127.0.0.1:{free_port()}/enrich"
    settings.PROCESSING_JOB_MAX_RETRIES = 0
    job = ProcessingJobFactory()
    errors_before = otel.count(
        "app.errors", **{"error.type": "DownstreamUnavailable", "app.error.source": "celery"}
    )
    failed_before = otel.count("processing.jobs.finished", outcome="failed")

    result = tasks.process_job.apply(kwargs={"job_id": str(job.pk)})

    assert result.failed()
    errors_after = otel.count(
        "app.errors", **{"error.type": "DownstreamUnavailable", "app.error.source": "celery"}
    )
    assert errors_after == errors_before + 1
    assert otel.count("processing.jobs.finished", outcome="failed") == failed_before + 1
    (run,) = [s for s in otel.finished_spans() if s.name == "run/processing.process_job"]
    assert run.status.status_code.name == "ERROR"
