"""Sampling (telemetry.sampling): the policy operators steer live from the admin. One policy
row (none: OTEL_TRACES_SAMPLER applies), its ordered rules, and the per-signal export
switches. Every process reads an in-memory snapshot of them (telemetry.sampling.policy)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from common.safe_regex import UnsafePattern, check_pattern


def validate_regex(pattern: str) -> None:
    """A rule pattern must compile and answer in bounded time: the sampler searches it in
    span or task names (common.safe_regex refuses catastrophic backtracking)."""
    try:
        check_pattern(pattern)
    except UnsafePattern as exc:
        raise ValidationError(str(exc)) from None


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
