"""Alertmanager's webhook payload (version 4) -> AlertEvent rows.

The payload is validated whole before anything is written, and written in one transaction,
so a malformed notification changes nothing. Alertmanager repeats notifications (every
group_interval while anything in the group changes, every repeat_interval otherwise): each
repeat updates the row of its episode instead of adding one. Events older than
ALERT_EVENT_RETENTION_DAYS are pruned as new ones arrive (telemetry.alerting.retention).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from rest_framework import serializers

from common.api_fields import StorableKeysDictField
from telemetry.alerting import retention
from telemetry.models import AlertEvent, AlertStatus

# Alertmanager sends this zero time as endsAt while an alert fires without a known end.
_GO_ZERO_TIME_YEAR = 1


class _LabelsField(StorableKeysDictField):
    child = serializers.CharField(allow_blank=True, trim_whitespace=False)


class AlertSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AlertStatus.values)
    labels = _LabelsField()
    annotations = _LabelsField(required=False, default=dict)
    startsAt = serializers.DateTimeField()
    endsAt = serializers.DateTimeField(required=False, allow_null=True, default=None)
    generatorURL = serializers.CharField(required=False, allow_blank=True, default="")
    fingerprint = serializers.RegexField(r"^[0-9a-f]{1,64}$")

    def validate_labels(self, value: dict[str, str]) -> dict[str, str]:
        if "alertname" not in value:
            raise serializers.ValidationError("Every alert has an alertname label.")
        return value


class NotificationSerializer(serializers.Serializer):
    version = serializers.ChoiceField(choices=["4"])
    status = serializers.ChoiceField(choices=AlertStatus.values)
    receiver = serializers.CharField(allow_blank=True)
    groupKey = serializers.CharField(required=False, allow_blank=True)
    alerts = AlertSerializer(many=True, allow_empty=False)


def _end_time(value: datetime | None) -> datetime | None:
    if value is None or value.year == _GO_ZERO_TIME_YEAR:
        return None
    return value


def parse_notification(payload: Any) -> dict[str, Any]:
    """The validated notification; raises serializers.ValidationError with field errors."""
    serializer = NotificationSerializer(data=payload)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@transaction.atomic
def record_notification(notification: dict[str, Any]) -> list[AlertEvent]:
    """Create or update one AlertEvent per alert of a validated notification."""
    events = []
    for alert in notification["alerts"]:
        labels = alert["labels"]
        event, created = AlertEvent.objects.select_for_update().get_or_create(
            fingerprint=alert["fingerprint"],
            starts_at=alert["startsAt"],
            defaults={"status": alert["status"]},
        )
        event.status = alert["status"]
        event.ends_at = _end_time(alert["endsAt"])
        event.alertname = labels.get("alertname", "")
        event.severity = labels.get("severity", "")
        event.labels = labels
        event.annotations = alert["annotations"]
        event.generator_url = alert["generatorURL"]
        event.receiver = notification["receiver"]
        if not created:
            event.notifications += 1
        event.save()
        events.append(event)
    # Old events go as new ones arrive: no scheduler needed (at most hourly, after commit).
    transaction.on_commit(retention.prune_if_due)
    return events
