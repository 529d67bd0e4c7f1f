"""Delete old profiling runs: `manage.py prune_profiling_runs [--days N]`."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from telemetry.profiling import runs


class Command(BaseCommand):
    help = "Delete profiling runs (and their results) that ended more than N days ago."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=float,
            default=None,
            help="default: PROFILING_RETENTION_DAYS",
        )

    def handle(self, *args, **options) -> None:
        days = options["days"]
        if days is None:
            days = settings.PROFILING_RETENTION_DAYS
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        deleted = runs.runs_prune(older_than=timedelta(days=days))
        self.stdout.write(f"deleted {deleted} profiling run(s)\n")
