"""Start a profiling run: `manage.py start_profiling --target requests --route '^/api/'`.

Every option is checked by the same validation as the admin's form and the REST API
(telemetry.profiling.forms), so a bad value gets the same message in all three; left out,
an option takes the same default.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from telemetry.profiling import runs
from telemetry.profiling.forms import validated_start_fields

# option -> run field; values stay text, as a browser sends them, for the form to parse.
OPTIONS = {
    "target": "target",
    "route": "route_pattern",
    "task": "task_pattern",
    "every": "sample_every",
    "clock": "clock",
    "duration": "max_duration_seconds",
    "max_captures": "max_captures",
    "starts_at": "starts_at",
    "import_frames": "import_frames",
    "name": "name",
}


class Command(BaseCommand):
    help = "Start a profiling run that every web and worker process picks up within seconds."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--target", help="requests (default), tasks, requests_and_tasks or process"
        )
        parser.add_argument("--route", help="regex on the route template or path")
        parser.add_argument("--task", help="regex on the Celery task name")
        parser.add_argument("--every", help="capture 1 in N (default from settings)")
        parser.add_argument("--clock", help="wall (default) or cpu")
        parser.add_argument("--memory", action="store_true", help="tracemalloc allocation sites")
        parser.add_argument("--duration", help="seconds before the run ends")
        parser.add_argument("--max-captures", help="captures before the run ends")
        parser.add_argument("--starts-at", help="ISO date and time; default: now")
        parser.add_argument("--import-frames", help="group (default), exclude or keep")
        parser.add_argument("--name")

    def handle(self, *args, **options) -> None:
        data = {field: options[option] for option, field in OPTIONS.items() if options[option]}
        data["memory"] = bool(options["memory"])
        fields, errors = validated_start_fields(data)
        if errors:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
            )
        run = runs.run_start(**fields)
        self.stdout.write(f"{run.pk}\n")
