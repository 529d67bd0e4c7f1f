"""Migration processing/0004: jobs stored with the old nested result ({"result": ...,
"processing_time_ms": ...}) are unwrapped, other results are left alone, and it reverses."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from processing.models import ProcessingJob

pytestmark = pytest.mark.django_db

m0004 = importlib.import_module("processing.migrations.0004_job_result_unnested")
RESULT = {"analysis": {"words": 2}, "enrichment": {"size_class": "short"}}


def test_it_unwraps_results_stored_the_old_way_and_keeps_the_rest():
    old = ProcessingJob.objects.create(
        data="a b", status="succeeded", result={"result": RESULT, "processing_time_ms": 3.5}
    )
    new = ProcessingJob.objects.create(data="a b", status="succeeded", result=RESULT)
    other = ProcessingJob.objects.create(data="x", status="succeeded", result={"result": 1, "x": 2})
    failed = ProcessingJob.objects.create(data="x", status="failed", result=None)

    m0004.unwrap(apps, None)

    for job in (old, new, other, failed):
        job.refresh_from_db()
    assert old.result == RESULT
    assert new.result == RESULT
    assert other.result == {"result": 1, "x": 2}  # not the old shape: an operator's data
    assert failed.result is None


def test_it_reverses():
    job = ProcessingJob.objects.create(data="a b", status="succeeded", result=RESULT)
    m0004.wrap(apps, None)
    job.refresh_from_db()
    assert job.result == {"result": RESULT, "processing_time_ms": None}
    m0004.unwrap(apps, None)
    job.refresh_from_db()
    assert job.result == RESULT
