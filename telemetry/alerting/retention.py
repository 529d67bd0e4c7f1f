"""Old alert events (and rule publications) are deleted after ALERT_EVENT_RETENTION_DAYS, by
the webhook itself at most once an hour per process (no scheduler needed), or by
`manage.py prune_alert_events` from cron."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from telemetry.models import AlertEvent, RulePublication

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0
_lock = threading.Lock()
_next_prune = 0.0


def prune_alert_events(*, older_than: timedelta) -> tuple[int, int]:
    """Delete events last heard of before OLDER_THAN ago, and publications that old (never
    the one in force nor the latest); return how many of each."""
    cutoff = timezone.now() - older_than
    events, _ = AlertEvent.objects.filter(last_received_at__lt=cutoff).delete()
    keep = [
        publication.pk
        for publication in (
            RulePublication.objects.filter(outcome__in=RulePublication.IN_FORCE).first(),
            RulePublication.objects.first(),
        )
        if publication is not None
    ]
    publications, _ = (
        RulePublication.objects.filter(started_at__lt=cutoff).exclude(pk__in=keep).delete()
    )
    return events, publications


def prune_if_due() -> None:
    """Prune when the retention is set and this process has not pruned for an hour."""
    global _next_prune
    days = settings.ALERT_EVENT_RETENTION_DAYS
    if not days:
        return
    with _lock:
        now = time.monotonic()
        if now < _next_prune:
            return
        _next_prune = now + PRUNE_EVERY_SECONDS
    try:
        events, publications = prune_alert_events(older_than=timedelta(days=days))
    except Exception:  # pruning must never fail the notification that triggered it
        logger.exception("pruning old alert events failed")
        return
    if events or publications:
        logger.info(
            "pruned old alert events",
            extra={"alert_events": events, "rule_publications": publications},
        )
