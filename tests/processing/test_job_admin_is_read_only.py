"""A job's admin page is read-only: it shows the job, offers no Save button, and a POST
changes nothing (issue 22, item 5)."""

from __future__ import annotations

import pytest

from processing.models import ProcessingJob
from tests.factories import ProcessingJobFactory

pytestmark = pytest.mark.django_db


def test_the_page_shows_the_job_without_save_buttons(staff_session):
    job = ProcessingJobFactory(data="shown here", status="succeeded")
    response = staff_session.get(f"/admin/processing/processingjob/{job.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "shown here" in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page


def test_a_post_changes_nothing(staff_session):
    job = ProcessingJobFactory(data="kept", status="succeeded")
    response = staff_session.post(
        f"/admin/processing/processingjob/{job.pk}/change/", {"status": "failed", "_save": "1"}
    )
    assert response.status_code == 403
    job.refresh_from_db()
    assert job.status == "succeeded"


def test_staff_may_still_delete_a_job(staff_session):
    job = ProcessingJobFactory(data="to delete")
    staff_session.post(f"/admin/processing/processingjob/{job.pk}/delete/", {"post": "yes"})
    assert not ProcessingJob.objects.filter(pk=job.pk).exists()
