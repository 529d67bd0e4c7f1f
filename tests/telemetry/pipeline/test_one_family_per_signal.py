"""Each signal is recorded once: a Celery task is timed by processing.job.duration and its
consumer span, not a second time by the Celery instrumentation's flower.task.runtime.seconds
(issue 22, item 8)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from processing import tasks
from processing.models import ProcessingJob

pytestmark = pytest.mark.django_db


def test_a_task_leaves_a_consumer_span_and_no_flower_histogram(otel):
    job = ProcessingJob.objects.create(data="x", status="running", started_at=timezone.now())
    result = {"analysis": {"words": 1}, "enrichment": {}}

    tasks.complete_job.apply(args=[{"result": result}], kwargs={"job_id": str(job.pk)})

    job.refresh_from_db()
    assert job.status == "succeeded"
    names = [span.name for span in otel.finished_spans()]
    assert "run/processing.complete_job" in names  # the Celery instrumentation is on
    assert otel.metric_points("flower.task.runtime.seconds") == []
    assert otel.metric_points("processing.job.duration")  # the job's own duration
