from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class ProcessingJob(models.Model):
    """One asynchronous processing request and what became of it."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    data = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The W3C trace id (32 hex digits) of the request that queued the job: its whole story,
    # worker and retries included, is that one trace. Empty when no trace was recording.
    trace_id = models.CharField(max_length=32, blank=True, default="", db_index=True)
    # Until when the job's current state is vouched for (processing.sweeper): a queued job
    # not started by then lost its message, a running job not finished by then lost its
    # worker; the sweeper then queues it again, completes it or fails it.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # The Celery task id of the delivery running the job: its own retries and redeliveries
    # carry the same id and may continue; another copy of the message may not.
    lease_owner = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-queued_at"]
        indexes = [
            models.Index(fields=["status", "queued_at"]),
            models.Index(fields=["status", "lease_expires_at"]),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
