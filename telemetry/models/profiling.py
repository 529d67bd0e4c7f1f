"""Profiling runs (telemetry.profiling): what an operator asked to profile, and what each
process captured for it. Results are per process (one writer per row, no contention); the
merged table is computed from them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ProfilingRun(models.Model):
    """An on-demand yappi profiling run that every web and worker process picks up.

    A run always ends by itself: at max_duration_seconds after it started, or once
    max_captures captures have been reported, whichever comes first.
    """

    class Target(models.TextChoices):
        REQUESTS = "requests", "web requests whose route matches"
        TASKS = "tasks", "Celery tasks whose name matches"
        REQUESTS_AND_TASKS = "requests_and_tasks", "web requests and Celery tasks that match"
        PROCESS = "process", "whole processes for the time window"

    class Clock(models.TextChoices):
        WALL = "wall", "wall (includes waiting on I/O)"
        CPU = "cpu", "cpu (on-CPU time of the thread)"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "scheduled"
        RUNNING = "running", "running"
        FINISHED = "finished", "finished"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"

    ACTIVE = (Status.SCHEDULED, Status.RUNNING)

    name = models.CharField(max_length=200, blank=True, help_text="What this run is for.")
    target = models.CharField(max_length=20, choices=Target.choices, default=Target.REQUESTS)
    route_pattern = models.CharField(
        max_length=300,
        blank=True,
        help_text="Regular expression searched in the route template (e.g. /api/users/{id}) "
        "and the path. Empty: every request.",
    )
    task_pattern = models.CharField(
        max_length=300,
        blank=True,
        help_text="Regular expression searched in the task name (e.g. processing.process_job). "
        "Empty: every task.",
    )
    sample_every = models.PositiveIntegerField(
        "capture 1 in N",
        default=50,
        help_text="Each process captures 1 in N matching requests or tasks (1: every one).",
    )
    clock = models.CharField(max_length=4, choices=Clock.choices, default=Clock.WALL)
    memory = models.BooleanField(
        "memory mode",
        default=False,
        help_text="Also record the top allocation sites with tracemalloc (slower).",
    )
    max_duration_seconds = models.PositiveIntegerField(
        default=300, help_text="The run ends this many seconds after it starts."
    )
    max_captures = models.PositiveIntegerField(
        default=200, help_text="The run ends once this many captures were reported."
    )
    starts_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: start now. Later: the run is scheduled."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    status_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    captures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"], name="profiling_run_status")]

    def __str__(self) -> str:
        return f"profiling run {self.pk} ({self.target}, {self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class ProfilingProcessResult(models.Model):
    """What one process captured for a run: its function table and call edges (bounded),
    allocation sites in memory mode, and the trace ids of its captures (bounded)."""

    run = models.ForeignKey(ProfilingRun, on_delete=models.CASCADE, related_name="results")
    process = models.CharField(max_length=200, help_text="role:host:pid")
    captures = models.PositiveIntegerField(default=0)
    profile = models.JSONField(default=dict)
    memory = models.JSONField(default=list)
    trace_ids = models.JSONField(default=list)
    joined_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["process"]
        constraints = [
            models.UniqueConstraint(fields=["run", "process"], name="profiling_result_per_process")
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} @ {self.process}"
