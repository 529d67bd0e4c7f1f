"""Stop profiling runs: `manage.py stop_profiling 12 13` or `manage.py stop_profiling --all`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from telemetry.models import ProfilingRun
from telemetry.profiling import runs


class Command(BaseCommand):
    help = "Cancel profiling runs that are scheduled or running."

    def add_arguments(self, parser) -> None:
        parser.add_argument("run_ids", nargs="*", type=int)
        parser.add_argument("--all", action="store_true", help="every active run")

    def handle(self, *args, **options) -> None:
        run_ids = options["run_ids"]
        if options["all"]:
            run_ids = list(
                ProfilingRun.objects.filter(status__in=ProfilingRun.ACTIVE).values_list(
                    "pk", flat=True
                )
            )
        elif not run_ids:
            raise CommandError("Name the runs to stop, or pass --all.")
        stopped = [run_id for run_id in run_ids if runs.run_stop(run_id=run_id)]
        self.stdout.write(f"stopped {len(stopped)} run(s): {' '.join(map(str, stopped))}\n")
