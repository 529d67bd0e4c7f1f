"""Functions that read processing jobs."""

from __future__ import annotations

from django.db.models import QuerySet

from processing.models import ProcessingJob


def job_list_visible_to(user) -> QuerySet[ProcessingJob]:
    """Staff see every job; other users see the jobs they queued."""
    jobs = ProcessingJob.objects.order_by("-queued_at")
    if not user.is_staff:
        jobs = jobs.filter(created_by=user)
    return jobs
