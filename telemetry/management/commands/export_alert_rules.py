"""manage.py export_alert_rules [--output PATH] [--check] [--reload [URL]]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from telemetry.alerting import publish
from telemetry.prometheus import promtool, server

_FROM_SETTINGS = "<PROMETHEUS_URL>"


class Command(BaseCommand):
    help = (
        "Write the enabled alert rules and SLO rules as a Prometheus rule file; optionally check "
        "it with promtool and ask a running Prometheus to reload."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            help=f"Where to write ('-' for stdout). Default: {settings.ALERT_RULES_FILE}",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Run `promtool check rules` on the result; fail (and keep the old file) if it "
            "does not pass or promtool is missing.",
        )
        parser.add_argument(
            "--reload",
            nargs="?",
            const=_FROM_SETTINGS,
            default=None,
            metavar="URL",
            help="POST URL/-/reload afterwards (default URL: PROMETHEUS_URL).",
        )

    def handle(self, *args: Any, output: Path | None, check: bool, **options: Any) -> None:
        text = publish.render_rule_file()
        if check:
            outcome = promtool.check_rules_text(text)
            if not outcome.checked:
                raise CommandError(promtool.NOT_CHECKED)
            if not outcome.ok:
                raise CommandError("promtool check rules failed:\n" + "\n".join(outcome.errors))
        if output is not None and str(output) == "-":
            self.stdout.write(text, ending="")
        else:
            path = output or publish.default_rule_file_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a Prometheus reloading meanwhile never reads half a file.
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            self.stderr.write(f"wrote {path}" + (" (promtool check rules: OK)" if check else ""))
        reload_url = options["reload"]
        if reload_url == _FROM_SETTINGS:
            reload_url = settings.PROMETHEUS_URL
            if not reload_url:
                raise CommandError("--reload needs a URL, or PROMETHEUS_URL set")
        if reload_url:
            try:
                server.reload_prometheus(reload_url)
            except Exception as exc:
                raise CommandError(f"reload failed: {exc}") from exc
            self.stderr.write(f"Prometheus at {reload_url} reloaded")
