"""manage.py export_alert_rules [--check]
manage.py export_alert_rules --output PATH|- [--check] [--reload [URL]]

Without --output it publishes, exactly as a save in the admin does: the enabled rules and SLOs
into PROMETHEUS_RULES_FILE, Prometheus (PROMETHEUS_URL) reloaded and asked whether it loaded
them, the previous file put back if it did not. With --output it only writes a copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from telemetry.alerting import audit, live, publish
from telemetry.models import AuditAction
from telemetry.prometheus import promtool, rule_file_store, server

_FROM_SETTINGS = "<PROMETHEUS_URL>"
COMMAND = "export_alert_rules"


class Command(BaseCommand):
    help = (
        "Publish the enabled alert rules and SLO rules to Prometheus (PROMETHEUS_RULES_FILE, "
        "reloaded and confirmed), or with --output write them to a file or stdout."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            help="Write a copy here ('-' for stdout) instead of publishing. The tracked "
            "reference file is deploy/prometheus/rules/alert_rules.yml.",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Require `promtool check rules` to pass (and promtool to be installed); "
            "otherwise fail and keep the previous file.",
        )
        parser.add_argument(
            "--reload",
            nargs="?",
            const=_FROM_SETTINGS,
            default=None,
            metavar="URL",
            help="With --output: POST URL/-/reload afterwards (default URL: PROMETHEUS_URL). "
            "Publishing always reloads PROMETHEUS_URL.",
        )

    def handle(self, *args: Any, output: Path | None, check: bool, **options: Any) -> None:
        actor = audit.Actor.for_command(COMMAND)
        if output is None:
            self._publish(actor, check=check, reload_url=options["reload"])
        else:
            self._export(actor, output, check=check, reload_url=options["reload"])

    def _publish(self, actor: audit.Actor, *, check: bool, reload_url: str | None) -> None:
        if not live.going_live_configured():
            raise CommandError(
                "nothing to publish into: set PROMETHEUS_RULES_FILE (the file Prometheus "
                "loads) or pass --output PATH ('-' for stdout)"
            )
        if reload_url not in (None, _FROM_SETTINGS):
            raise CommandError(
                "--reload URL goes with --output; publishing reloads PROMETHEUS_URL "
                f"({settings.PROMETHEUS_URL or 'unset'})"
            )
        if check and promtool.promtool_path() is None:
            raise CommandError(promtool.NOT_CHECKED)
        publication = live.publish_rules(actor=actor, reason="manage.py export_alert_rules")
        # One line, as every command error: the publication keeps the full message.
        message = " ".join(publication.message.split())
        line = f"publication #{publication.pk}: {publication.get_outcome_display()}: {message}"
        if not publication.in_force:
            raise CommandError(line)
        self.stderr.write(line)

    def _export(
        self, actor: audit.Actor, output: Path, *, check: bool, reload_url: str | None
    ) -> None:
        text = publish.render_rule_file()
        if check:
            outcome = promtool.check_rules_text(text)
            if not outcome.checked:
                raise CommandError(promtool.NOT_CHECKED)
            if not outcome.ok:
                raise CommandError("promtool check rules failed:\n" + "\n".join(outcome.errors))
        if str(output) == "-":
            self.stdout.write(text, ending="")
            where = "stdout"
        else:
            try:
                # Write then rename, so a Prometheus reloading meanwhile never reads half a file.
                rule_file_store.replace_rule_file(output, text)
            except OSError as exc:
                raise CommandError(f"cannot write {output}: {exc}") from exc
            where = str(output)
            self.stderr.write(f"wrote {output}" + (" (promtool check rules: OK)" if check else ""))
        audit.record(
            actor=actor, action=AuditAction.EXPORTED, kind="rule file", label=where, detail=text
        )
        if reload_url == _FROM_SETTINGS:
            reload_url = settings.PROMETHEUS_URL
            if not reload_url:
                raise CommandError("--reload needs a URL, or PROMETHEUS_URL set")
        if reload_url:
            try:
                server.reload_prometheus(reload_url)
            except server.PrometheusError as exc:
                raise CommandError(f"reload failed: {exc}") from exc
            audit.record(
                actor=actor, action=AuditAction.RELOADED, kind="Prometheus", label=reload_url
            )
            self.stderr.write(f"Prometheus at {reload_url} reloaded")
