"""Alerting as data: the rules and objectives operators edit in the admin, and the alerts that
come back from Alertmanager.

Validation lives in telemetry.prometheus.validation (durations, label names, promtool);
rendering to Prometheus rule files in telemetry.prometheus.rule_files and .slo_rules.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from telemetry.prometheus import validation


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
        errors = validation.rule_field_errors(self)
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
        errors = validation.slo_field_errors(self)
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
