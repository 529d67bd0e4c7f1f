"""Alerting as data: the rules and objectives operators edit in the admin, and the alerts that
come back from Alertmanager.

Validation lives in telemetry.prometheus.validation (durations, label names, promtool);
rendering to Prometheus rule files in telemetry.prometheus.rule_files and .slo_rules.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
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
    runbook = models.CharField(
        max_length=300,
        blank=True,
        help_text="What to do when it fires: a page of docs/runbooks (e.g. HighErrorRate) or a "
        "URL. It becomes the runbook_url annotation.",
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
    runbook = models.CharField(
        max_length=300,
        blank=True,
        default="SLOErrorBudgetBurn",
        help_text="The runbook of its burn-rate alerts: a page of docs/runbooks or a URL.",
    )
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
    last_received_at = models.DateTimeField(auto_now=True, db_index=True)
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
            "generator_url": self.generator_url,
            "notifications": self.notifications,
            "first_received_at": self.first_received_at.isoformat(),
            "last_received_at": self.last_received_at.isoformat(),
        }


class Source(models.TextChoices):
    """Where a change came from."""

    ADMIN = "admin", "admin"
    API = "api", "API"
    COMMAND = "command", "command"
    MIGRATION = "migration", "migration"


class PublicationOutcome(models.TextChoices):
    """What became of one attempt to put the rules in force in Prometheus."""

    LIVE = "live", "live: Prometheus loaded it"
    WRITTEN = "written", "written: no Prometheus to reload (PROMETHEUS_URL unset)"
    NOT_CONFIRMED = "not_confirmed", "reloaded, but Prometheus does not show these rules"
    REFUSED = "refused", "refused by Prometheus: the previous file is back"
    UNREACHABLE = "unreachable", "Prometheus unreachable: the previous file is back"
    INVALID = "invalid", "refused by promtool: nothing written"
    BUSY = "busy", "another publish held the lock"
    NOT_CONFIGURED = "not_configured", "not published: PROMETHEUS_RULES_FILE unset"
    FAILED = "failed", "failed: the file could not be written"


class RulePublication(models.Model):
    """One attempt to put the enabled rules and SLOs in force: the file it rendered, what
    promtool and Prometheus said, and which rows (at which version) it held."""

    IN_FORCE = (PublicationOutcome.LIVE, PublicationOutcome.WRITTEN)

    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField("by", max_length=254, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(
        max_length=20, choices=PublicationOutcome.choices, blank=True, db_index=True
    )
    message = models.TextField(blank=True)
    rules_file = models.CharField(max_length=500, blank=True)
    prometheus_url = models.CharField(max_length=500, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    rule_count = models.PositiveIntegerField(default=0)
    # "rule:<group>/<name>" and "slo:<name>" -> digest of what the row rendered, so a row
    # can tell whether its current version is the one in force.
    contents = models.JSONField(default=dict, blank=True)
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"publication #{self.pk} ({self.outcome or 'running'})"

    @property
    def in_force(self) -> bool:
        return self.outcome in self.IN_FORCE


class AuditAction(models.TextChoices):
    CREATED = "created", "created"
    CHANGED = "changed", "changed"
    ENABLED = "enabled", "enabled"
    DISABLED = "disabled", "disabled"
    DELETED = "deleted", "deleted"
    EXPORTED = "exported", "exported"
    PUBLISHED = "published", "published"
    RELOADED = "reloaded", "reloaded"


class AlertingAuditEntry(models.Model):
    """Who changed, enabled, disabled, deleted, exported, published or reloaded alert rules
    and SLOs, from where, and what changed."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too: the trail must still say who after the account is gone.
    actor_label = models.CharField("by", max_length=254, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    action = models.CharField(max_length=20, choices=AuditAction.choices, db_index=True)
    target_type = models.CharField(max_length=20, blank=True)  # alert rule, SLO, rule file
    target_id = models.PositiveIntegerField(null=True, blank=True)
    target_label = models.CharField("target", max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)  # field -> [before, after]
    detail = models.TextField(blank=True)
    publication = models.ForeignKey(
        RulePublication, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "alerting audit entry"
        verbose_name_plural = "alerting audit trail"

    def __str__(self) -> str:
        return f"{self.actor_label or self.source} {self.action} {self.target_label}"
