"""The histograms a Celery job records on every run (its duration and queue wait, and the
httpx client duration of its downstream call: telemetry.pipeline.providers.PER_JOB_HISTOGRAMS)
are tallied in memory: a job makes no synchronous SDK measurement for them, and the
process's reader sees them as the SDK aggregates them (scope, unit, boundaries, counts).
In-process: the job chain through Celery's eager apply, its downstream the live server."""

from __future__ import annotations

import pytest

from processing import tasks
from processing.metrics import _SECONDS_BUCKETS
from telemetry.pipeline.providers import PER_JOB_HISTOGRAMS
from tests.factories import ProcessingJobFactory

pytestmark = pytest.mark.django_db(transaction=True)


def counts(otel) -> dict[str, int]:
    return {name: sum(p.count for p in otel.metric_points(name)) for name in PER_JOB_HISTOGRAMS}


def test_a_job_records_its_histograms_without_a_synchronous_measurement(
    otel, synchronous_measurements, settings, live_server
):
    settings.PROCESSING_DOWNSTREAM_URL = f"{live_server.url}/api/downstream/enrich"
    job = ProcessingJobFactory(data="alpha beta")
    before = counts(otel)

    tasks.job_workflow(job.pk).apply()

    job.refresh_from_db()
    assert job.status == "succeeded"
    after = counts(otel)
    assert {name: after[name] - before[name] for name in PER_JOB_HISTOGRAMS} == {
        "processing.job.duration": 1,
        "processing.job.queue_wait": 1,
        "http.client.request.duration": 1,
    }
    assert not PER_JOB_HISTOGRAMS & set(synchronous_measurements), synchronous_measurements
    # The counter of finished jobs is still the SDK's (its exemplars point into the trace).
    assert "processing.jobs.finished" in synchronous_measurements
    (duration,) = [
        p
        for p in otel.metric_points("processing.job.duration")
        if p.attributes == {"outcome": "succeeded"}
    ]
    assert duration.explicit_bounds == tuple(float(b) for b in _SECONDS_BUCKETS)


def test_the_tallied_histograms_keep_their_scope_and_unit(otel, settings, live_server):
    settings.PROCESSING_DOWNSTREAM_URL = f"{live_server.url}/api/downstream/enrich"
    tasks.job_workflow(ProcessingJobFactory(data="gamma").pk).apply()

    data = otel.metrics.get_metrics_data()
    found = {
        metric.name: (scope_metrics.scope.name, metric.unit)
        for resource_metrics in data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
        if metric.name in PER_JOB_HISTOGRAMS
    }
    assert found == {
        "processing.job.duration": ("processing", "s"),
        "processing.job.queue_wait": ("processing", "s"),
        "http.client.request.duration": ("opentelemetry.instrumentation.httpx", "s"),
    }
