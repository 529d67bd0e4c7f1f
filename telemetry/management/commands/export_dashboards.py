"""manage.py export_dashboards [--output-dir DIR] [--check]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from telemetry.dashboards import grafana


class Command(BaseCommand):
    help = "Write the Grafana dashboards (telemetry.dashboards.grafana) as JSON for provisioning."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output-dir",
            type=Path,
            default=Path(settings.BASE_DIR) / "deploy" / "grafana" / "dashboards",
            help="Default: deploy/grafana/dashboards/",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; fail when a file differs from what the code generates.",
        )

    def handle(self, *args: Any, output_dir: Path, check: bool, **options: Any) -> None:
        stale = []
        for name in grafana.DASHBOARDS:
            path = output_dir / name
            text = grafana.render(name)
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current == text:
                continue
            if check:
                stale.append(str(path))
                continue
            output_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            self.stderr.write(f"wrote {path}")
        if stale:
            raise CommandError(f"out of date (run manage.py export_dashboards): {', '.join(stale)}")
