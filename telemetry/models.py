"""Alerting as data: the rules and objectives operators edit in the admin, and the alerts that
come back from Alertmanager.

Validation lives in telemetry.rule_validation (durations, label names, promtool); rendering
to Prometheus rule files in telemetry.alerting and telemetry.slo.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models


class Severity(models.TextChoices):
    # Alertmanager routes on this label (deploy/alertmanager/alertmanager.yml).
    INFO = "info", "info"
    WARNING = "warning", "warning"
    CRITICAL = "critical", "critical"


class AlertRule(models.Model):
    """One Prometheus alerting rule, exported into the rule file when enabled."""

    group = models.CharField(
        max_length=100,
        default="service_alerts",
        help_text="Prometheus rule group: rules of a group are evaluated together, in order.",
    )
    name = models.CharField(
        max_length=100,
        help_text="The alertname, e.g. HighErrorRate (letters, digits, '_' and ':').",
    )
    expr = models.TextField(
        "PromQL expression",
        help_text="The alert fires for every series this expression returns.",
    )
    for_duration = models.CharField(
        "for",
        max_length=20,
        default="5m",
        blank=True,
        help_text="How long the expression must hold before the alert fires (e.g. 30s, 5m, "
        "1h30m). Empty or 0s: fire at once.",
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    labels = models.JSONField(
        default=dict,
        blank=True,
        help_text='Extra labels, e.g. {"team": "backend"}. "severity" comes from its own field.',
    )
    summary = models.CharField(max_length=300, blank=True, help_text="Annotation: one line.")
    description = models.TextField(
        blank=True, help_text="Annotation: may use Prometheus templates such as {{ $value }}."
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group", "name"]
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="alert_rule_unique_in_group")
        ]

    def __str__(self) -> str:
        return f"{self.group}/{self.name}"

    def clean(self) -> None:
        from telemetry import rule_validation

        errors = rule_validation.rule_field_errors(self)
        if errors:
            raise ValidationError(errors)


class SLO(models.Model):
    """A service-level objective from which multiwindow, multi-burn-rate alerts are generated.

    The SLI is good events / total events, both counters given as series selectors; the
    export wraps them in sum(rate(...[window])).
    """

    name = models.CharField(
        max_length=100,
        unique=True,
        help_text="Identifier used in rule names and the slo label, e.g. api_availability.",
    )
    description = models.CharField(max_length=300, blank=True)
    objective = models.DecimalField(
        "objective (%)",
        max_digits=7,
        decimal_places=4,
        help_text="Share of good events to meet over the window, e.g. 99.5.",
    )
    window = models.CharField(
        max_length=20, default="30d", help_text="The SLO period the error budget covers."
    )
    good_series = models.TextField(
        help_text='Counter of good events, e.g. metric_total{status!~"5.."}.'
    )
    total_series = models.TextField(help_text="Counter of all events, e.g. metric_total.")
    labels = models.JSONField(default=dict, blank=True, help_text="Extra labels on the alerts.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "SLO"
        verbose_name_plural = "SLOs"

    def __str__(self) -> str:
        return f"{self.name} ({self.objective}% over {self.window})"

    def clean(self) -> None:
        from telemetry import rule_validation

        errors = rule_validation.slo_field_errors(self)
        if errors:
            raise ValidationError(errors)


class AlertStatus(models.TextChoices):
    FIRING = "firing", "firing"
    RESOLVED = "resolved", "resolved"


class AlertEvent(models.Model):
    """One alert episode as Alertmanager reported it to the webhook.

    An episode is a fingerprint (the alert's label set) plus its start time: repeated and
    resolved notifications of the same episode update the row; a new firing after resolution
    is a new row.
    """

    fingerprint = models.CharField(max_length=64)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=AlertStatus.choices)
    alertname = models.CharField(max_length=200, blank=True, db_index=True)
    severity = models.CharField(max_length=50, blank=True)
    labels = models.JSONField(default=dict)
    annotations = models.JSONField(default=dict)
    generator_url = models.TextField(blank=True)
    receiver = models.CharField(max_length=200, blank=True)
    first_received_at = models.DateTimeField(auto_now_add=True)
    last_received_at = models.DateTimeField(auto_now=True)
    notifications = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint", "starts_at"], name="alert_event_unique_episode"
            )
        ]

    def __str__(self) -> str:
        return f"{self.alertname} [{self.status}] since {self.starts_at:%Y-%m-%d %H:%M:%S}"

    def as_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data (the alert-events API)."""
        return {
            "id": self.pk,
            "fingerprint": self.fingerprint,
            "status": self.status,
            "alertname": self.alertname,
            "severity": self.severity,
            "labels": self.labels,
            "annotations": self.annotations,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "receiver": self.receiver,
            "notifications": self.notifications,
            "first_received_at": self.first_received_at.isoformat(),
            "last_received_at": self.last_received_at.isoformat(),
        }


# --- Profiling runs (telemetry.profiling): what an operator asked to profile, and what each
# process captured for it. Results are per process (one writer per row, no contention);
# the merged table is computed from them.

from django.conf import settings  # noqa: E402  (here, so the alerting code above stays as is)


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


# --- Sampling (telemetry.sampling): the policy operators steer live from the admin. One
# policy row (none: OTEL_TRACES_SAMPLER applies), its ordered rules, and the per-signal export
# switches. Every process reads an in-memory snapshot of them (telemetry.sampling_policy).

from django.core.validators import (  # noqa: E402
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
)


def validate_regex(pattern: str) -> None:
    """A rule pattern must compile: the sampler searches it in span or task names."""
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValidationError(f"not a valid regular expression: {exc}") from exc


_RATIO_VALIDATORS = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class SamplingPolicy(models.Model):
    """The sampling policy in force in every process (one row; the admin keeps it single).

    Root spans are kept with the ratio of the first matching rule, else `default_ratio`;
    every other span follows its parent, so a trace is kept or dropped as a whole.
    """

    default_ratio = models.FloatField(
        default=1.0,
        validators=_RATIO_VALIDATORS,
        help_text="Share of root spans (new traces) kept when no rule matches: 0 to 1.",
    )
    force_header_name = models.CharField(
        max_length=100,
        default="X-Force-Trace",
        validators=[
            RegexValidator(r"^[A-Za-z0-9-]+$", "letters, digits and dashes only (an HTTP header)")
        ],
        help_text="Request header that forces a new trace to be kept (debugging).",
    )
    force_header_value = models.CharField(
        max_length=200,
        blank=True,
        help_text="A request whose header has exactly this value starts a kept trace. "
        "Empty: forcing by header is off.",
    )
    force_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        help_text="API requests authenticated with these users' tokens start kept traces.",
    )
    export_traces = models.BooleanField(default=True, help_text="Send spans to the collector.")
    export_metrics = models.BooleanField(default=True, help_text="Send metrics to the collector.")
    export_logs = models.BooleanField(default=True, help_text="Send log records to the collector.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name_plural = "sampling policy"

    def __str__(self) -> str:
        return f"sampling policy (default {self.default_ratio:g})"


class SamplingRule(models.Model):
    """Overrides the default ratio for the root spans whose route or task name matches."""

    class Kind(models.TextChoices):
        HTTP = "http", "HTTP route (server span name, e.g. GET /api/users/{user_id})"
        TASK = "task", "Celery task name (e.g. processing.process_job)"

    policy = models.ForeignKey(SamplingPolicy, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(
        default=0, help_text="Rules are tried in this order; the first match decides."
    )
    kind = models.CharField(max_length=4, choices=Kind.choices, default=Kind.HTTP)
    pattern = models.CharField(
        max_length=300,
        validators=[validate_regex],
        help_text="Regular expression searched in 'METHOD /route/{template}' or in the task "
        "name. Anchor it (^GET /api/users/\\{user_id\\}$) to match one route only.",
    )
    ratio = models.FloatField(
        validators=_RATIO_VALIDATORS, help_text="Share of matching root spans kept: 0 to 1."
    )
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True, help_text="Why this rule exists.")

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.pattern!r} -> {self.ratio:g}"

    @property
    def label(self) -> str:
        """The value of the span attribute sampling.rule for spans this rule kept."""
        return f"rule {self.pk}: {self.kind} {self.pattern}"
