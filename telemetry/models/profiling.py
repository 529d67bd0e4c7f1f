"""Profiling (telemetry.profiling): on-demand runs (what an operator asked to profile, what
each process captured for it, and the first captures of each process one by one) and the
continuous low-rate profiler (its settings, and the stacks it sampled per process and time
window). Results are per process (one writer per row, no contention); merged views are
computed from them."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class ImportFrames(models.TextChoices):
    """How the frames of Python's import machinery are shown (telemetry.profiling.own_code)."""

    GROUP = "group", "group: one frame per import, what it ran under it"
    EXCLUDE = "exclude", "exclude: leave imports and what they ran out"
    KEEP = "keep", "keep: every frame of importlib"


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
    import_frames = models.CharField(
        "import frames",
        max_length=7,
        choices=ImportFrames.choices,
        default=ImportFrames.GROUP,
        help_text="Modules imported lazily during the first captures of a process show up as "
        "importlib frames: grouped, left out, or kept as they are.",
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


class ProfilingCapture(models.Model):
    """One capture on its own (a request or a task), kept for the first
    PROFILING_MAX_CAPTURE_PROFILES captures of each process in a run: its function table,
    the trace it belongs to, and what it was."""

    run = models.ForeignKey(ProfilingRun, on_delete=models.CASCADE, related_name="captures_kept")
    process = models.CharField(max_length=200, help_text="role:host:pid")
    label = models.CharField(max_length=300, blank=True, help_text="The route or task name.")
    trace_id = models.CharField(max_length=32, blank=True)
    started_at = models.DateTimeField()
    duration_ms = models.FloatField(default=0.0)
    profile = models.JSONField(default=dict)

    class Meta:
        ordering = ["started_at", "pk"]
        indexes = [models.Index(fields=["run", "started_at"], name="profiling_capture_run")]

    def __str__(self) -> str:
        return f"capture {self.pk} of run {self.run_id} ({self.label or self.process})"


class ContinuousProfiling(models.Model):
    """Whether every web and worker process samples its threads' stacks all the time, and
    how often (one row; without it PROFILING_CONTINUOUS_* settings decide). Saving it tells
    every process within a second or two (telemetry.profiling.continuous.config)."""

    class Mode(models.TextChoices):
        CPU = "cpu", "cpu: threads that ran since the last sample, weighted by their CPU time"
        WALL = "wall", "wall: every thread, waiting included, weighted by wall time"

    enabled = models.BooleanField(
        default=True, help_text="Sample every web and worker process continuously."
    )
    sample_hz = models.PositiveIntegerField(
        "samples per second",
        default=19,
        validators=[MinValueValidator(1), MaxValueValidator(250)],
        help_text="Stacks read per second in each process (bench/continuous_profiler_overhead.py "
        "measures what a rate costs).",
    )
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.CPU)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = "continuous profiling"
        verbose_name_plural = "continuous profiling"

    def __str__(self) -> str:
        state = f"on, {self.sample_hz} Hz, {self.mode}" if self.enabled else "off"
        return f"continuous profiling ({state})"


class ContinuousProfileWindow(models.Model):
    """The stacks one process sampled in one time window (PROFILING_CONTINUOUS_WINDOW_SECONDS):
    frames, stack counts and weights, the traces whose spans were sampled, and what the
    sampler itself cost. Bounded: PROFILING_CONTINUOUS_MAX_STACKS stacks per row, rows pruned
    by age and count (telemetry.profiling.continuous.windows)."""

    service = models.CharField(max_length=200)
    role = models.CharField(max_length=50, help_text="web or worker")
    process = models.CharField(max_length=200, help_text="role:host:pid")
    window_start = models.DateTimeField()
    window_seconds = models.PositiveIntegerField()
    mode = models.CharField(max_length=4, default="cpu")
    sample_hz = models.PositiveIntegerField(default=0)
    samples = models.PositiveIntegerField(default=0, help_text="Stacks counted in the window.")
    dropped_samples = models.PositiveIntegerField(
        default=0, help_text="Samples over the window's stack limit, counted but not kept."
    )
    stacks = models.JSONField(default=dict)
    traces = models.JSONField(default=list)
    sampler_cpu_seconds = models.FloatField(
        default=0.0, help_text="CPU time the sampler thread used in the window."
    )
    process_cpu_seconds = models.FloatField(
        default=0.0, help_text="CPU time the whole process used in the window."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "continuous profile"
        verbose_name_plural = "continuous profiles"
        ordering = ["-window_start", "process"]
        constraints = [
            models.UniqueConstraint(
                fields=["process", "window_start"], name="continuous_window_per_process"
            )
        ]
        indexes = [
            models.Index(fields=["window_start"], name="continuous_window_start"),
            models.Index(fields=["service", "role", "window_start"], name="continuous_window_role"),
        ]

    def __str__(self) -> str:
        return f"{self.process} @ {self.window_start:%Y-%m-%d %H:%M:%S}"
