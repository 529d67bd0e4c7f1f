"""Start a profiling run: `manage.py start_profiling --target requests --route '^/api/'`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from telemetry.models import ProfilingRun
from telemetry.profiling import runs
from telemetry.profiling.forms import validated_start_fields


class Command(BaseCommand):
    help = "Start a profiling run that every web and worker process picks up within seconds."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--target", choices=ProfilingRun.Target.values, default="requests")
        parser.add_argument("--route", default="", help="regex on route template or path")
        parser.add_argument("--task", default="", help="regex on the Celery task name")
        parser.add_argument("--every", type=int, help="capture 1 in N (default from settings)")
        parser.add_argument("--clock", choices=ProfilingRun.Clock.values, default="wall")
        parser.add_argument("--memory", action="store_true", help="tracemalloc allocation sites")
        parser.add_argument("--duration", type=int, help="seconds before the run ends")
        parser.add_argument("--max-captures", type=int, help="captures before the run ends")
        parser.add_argument("--name", default="")

    def handle(self, *args, **options) -> None:
        fields, errors = validated_start_fields(
            {
                "name": options["name"],
                "target": options["target"],
                "route_pattern": options["route"],
                "task_pattern": options["task"],
                "sample_every": options["every"],
                "clock": options["clock"],
                "memory": options["memory"],
                "max_duration_seconds": options["duration"],
                "max_captures": options["max_captures"],
            }
        )
        if errors:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
            )
        run = runs.run_start(**fields)
        self.stdout.write(f"{run.pk}\n")
