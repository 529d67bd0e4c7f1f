"""Delete old alert events: `manage.py prune_alert_events [--days N]` (the webhook also does
it by itself, hourly, while ALERT_EVENT_RETENTION_DAYS is set)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from telemetry.alerting import retention


class Command(BaseCommand):
    help = (
        "Delete alert events last heard of more than N days ago, and rule publications that "
        "old (never the one in force)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days", type=float, default=None, help="default: ALERT_EVENT_RETENTION_DAYS"
        )

    def handle(self, *args, **options) -> None:
        days = options["days"]
        if days is None:
            days = settings.ALERT_EVENT_RETENTION_DAYS
            if not days:
                raise CommandError("ALERT_EVENT_RETENTION_DAYS is 0 (keep forever); pass --days N")
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        events, publications = retention.prune_alert_events(older_than=timedelta(days=days))
        self.stdout.write(
            f"deleted {events} alert event(s) and {publications} rule publication(s)\n"
        )
