"""processing.jobs.oldest_queued.age: how long the oldest job still queued has waited, read at
collection with one indexed lookup at most every OLDEST_JOB_REFRESH_SECONDS, 0 when nothing
waits, and without a trace of its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from processing import metrics
from processing.models import ProcessingJob

pytestmark = pytest.mark.django_db

GAUGE = "processing.jobs.oldest_queued.age"


@pytest.fixture(autouse=True)
def _fresh_read(monkeypatch):
    # Each test reads the database anew instead of the value a previous one cached.
    monkeypatch.setattr(metrics, "_oldest_read_at", -metrics.OLDEST_JOB_REFRESH_SECONDS)


def queued_since(minutes: float, status=ProcessingJob.Status.QUEUED) -> ProcessingJob:
    job = ProcessingJob.objects.create(data="x", status=status)
    ProcessingJob.objects.filter(pk=job.pk).update(
        queued_at=timezone.now() - timedelta(minutes=minutes)
    )
    return job


def gauge_value(otel) -> float:
    (point,) = otel.metric_points(GAUGE)
    return point.value


def test_it_reports_how_long_the_oldest_queued_job_has_waited(otel):
    queued_since(3)
    queued_since(12)
    queued_since(60, status=ProcessingJob.Status.RUNNING)  # started: not waiting any more
    queued_since(90, status=ProcessingJob.Status.SUCCEEDED)
    assert 12 * 60 <= gauge_value(otel) < 12 * 60 + 30


def test_it_is_zero_when_nothing_waits(otel):
    queued_since(30, status=ProcessingJob.Status.FAILED)
    assert gauge_value(otel) == 0


def test_it_reads_the_database_at_most_every_refresh_interval(otel, django_assert_num_queries):
    queued_since(5)
    with django_assert_num_queries(1):
        first = gauge_value(otel)
    queued_since(20)
    with django_assert_num_queries(0):
        assert gauge_value(otel) == first  # the cached value, not a new lookup


def test_the_lookup_leaves_no_trace_of_its_own(otel):
    queued_since(1)
    otel.spans.clear()
    gauge_value(otel)
    assert [span.name for span in otel.finished_spans()] == []
