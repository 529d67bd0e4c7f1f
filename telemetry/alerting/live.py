"""Rules go live: the enabled rows rendered into PROMETHEUS_RULES_FILE, Prometheus reloaded,
and its rules API asked whether it holds exactly those groups.

Synchronous, in the request that saved the row, because the operator is waiting for the
answer: every step is bounded (promtool, PROMETHEUS_TIMEOUT per call, the lock wait), so a
save takes a few seconds at worst and the admin says at once what happened. One publisher at
a time (an flock beside the file), rendering inside the lock from committed rows, so the last
publish always holds the latest rows whichever gunicorn worker runs it.

What stays in force when something goes wrong:
- promtool (where installed) refuses the file: nothing is written;
- Prometheus refuses it on reload: the previous file is put back (a restart of Prometheus
  then loads the good one too) and Prometheus is reloaded on it;
- Prometheus cannot be reached: the previous file is put back as well, so what is on disk is
  what Prometheus last accepted; the operator publishes again once it is back. The very first
  file stays (there is nothing to go back to; Prometheus loads it when it starts).
The rows are saved either way: nothing the operator typed is lost, and each attempt is a
RulePublication row with what was said.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone

from telemetry.alerting import audit, publish
from telemetry.alerting.audit import Actor
from telemetry.models import SLO, AlertRule, AuditAction, PublicationOutcome, RulePublication
from telemetry.prometheus import promtool, rule_file_store, server
from telemetry.prometheus.rule_files import PUBLISHED_HEADER
from telemetry.prometheus.rule_state import differences

logger = logging.getLogger(__name__)

# How long a publish waits for another one to finish before it gives up (busy).
LOCK_WAIT_SECONDS = 15.0
# Prometheus answers the reload once it is applied; the rules API may lag a moment.
CONFIRM_ATTEMPTS = 4
CONFIRM_PAUSE_SECONDS = 0.25
# Where expressions are evaluated to find the one Prometheus cannot parse: no data there.
EPOCH = datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)

NOT_CONFIGURED_MESSAGE = (
    "Not published: PROMETHEUS_RULES_FILE is not set, so this service does not write the "
    "file Prometheus loads (docs/alerting.md, 'Going live')."
)


def going_live_configured() -> bool:
    """Whether saving a rule publishes it (PROMETHEUS_RULES_FILE is set)."""
    return publish.published_rules_file() is not None


def _finish(
    publication: RulePublication, outcome: str, message: str, actor: Actor
) -> RulePublication:
    publication.outcome = outcome
    publication.message = message
    publication.finished_at = timezone.now()
    publication.save()
    audit.record(
        actor=actor,
        action=AuditAction.PUBLISHED,
        kind="rule file",
        label=publication.rules_file or "(no rules file)",
        detail=f"{publication.get_outcome_display()}: {message}"[:4000],
        publication=publication,
    )
    quiet = publication.in_force or outcome == PublicationOutcome.NOT_CONFIGURED
    log = logger.info if quiet else logger.warning
    log(
        "alert rules publication %s: %s",
        outcome,
        message,
        extra={"publication_id": publication.pk, "publish_outcome": outcome},
    )
    return publication


@dataclass
class _Rendered:
    text: str
    groups: list[dict]
    rule_count: int


def _render(publication: RulePublication) -> _Rendered:
    rules = list(AlertRule.objects.filter(enabled=True))
    slos = list(SLO.objects.filter(enabled=True))
    groups = publish.rule_file_groups(rules, slos)
    text = publish.render_rule_file(rules, slos, header=PUBLISHED_HEADER)
    rendered = _Rendered(text, groups, sum(len(group["rules"]) for group in groups))
    publication.text = text
    publication.sha256 = hashlib.sha256(text.encode()).hexdigest()
    publication.rule_count = rendered.rule_count
    publication.contents = publish.contents_of(rules, slos)
    publication.save()
    return rendered


def _confirm(url: str, rendered: _Rendered, path_text: str) -> list[str]:
    problems: list[str] = []
    for attempt in range(CONFIRM_ATTEMPTS):
        problems = differences(rendered.groups, server.rule_groups(url), rules_file=path_text)
        if not problems:
            return []
        if attempt + 1 < CONFIRM_ATTEMPTS:
            time.sleep(CONFIRM_PAUSE_SECONDS)
    return problems


def _changed_rows(publication: RulePublication) -> list[AlertRule | SLO]:
    """The rows whose part of PUBLICATION differs from the publication in force before it."""
    before = (
        RulePublication.objects.filter(outcome__in=RulePublication.IN_FORCE)
        .exclude(pk=publication.pk)
        .first()
    )
    held = before.contents if before else {}
    changed = {key for key, digest in publication.contents.items() if held.get(key) != digest}
    rows: list[AlertRule | SLO] = [
        *AlertRule.objects.filter(enabled=True),
        *SLO.objects.filter(enabled=True),
    ]
    return [row for row in rows if publish.row_key(row) in changed]


def _expressions_of(row: AlertRule | SLO) -> list[str]:
    if isinstance(row, SLO):
        groups = publish.rule_file_groups([], [row])
        return [rule["expr"] for group in groups for rule in group["rules"]]
    return [row.expr]


def _diagnose_refusal(url: str, publication: RulePublication) -> list[str]:
    """Why Prometheus refused the file, rule by rule where it can tell.

    Its reload answer does not say (the detail goes to its log only), so each expression of
    the rows changed since the rules in force is handed to its query API, evaluated at the
    start of time (nothing to read, so it costs nothing): a parse error comes back with the
    position, from the very Prometheus that refused the file."""
    findings = []
    for row in _changed_rows(publication)[:20]:
        for expr in _expressions_of(row):
            try:
                server.instant_query(url, expr, at=EPOCH)
            except server.PrometheusRefused as exc:
                findings.append(f"{audit.target_label(row)}: {str(exc).split(': ', 1)[-1]}")
                break
            except server.PrometheusUnreachable:
                return findings
    return findings


def publish_rules(*, actor: Actor, reason: str) -> RulePublication:
    """Put the enabled rules and SLOs in force now; the RulePublication says how it went.

    Never raises for what Prometheus, promtool or the disk say: they become its outcome."""
    path = publish.published_rules_file()
    url = settings.PROMETHEUS_URL
    publication = RulePublication.objects.create(
        source=actor.source,
        actor=actor.user,
        actor_label=actor.label[:254],
        reason=reason[:300],
        rules_file=str(path or ""),
        prometheus_url=url,
    )
    if path is None:
        return _finish(
            publication, PublicationOutcome.NOT_CONFIGURED, NOT_CONFIGURED_MESSAGE, actor
        )
    started = time.monotonic()
    try:
        with rule_file_store.locked(path, wait_seconds=LOCK_WAIT_SECONDS):
            return _publish_locked(publication, path, url, actor, started)
    except rule_file_store.RuleFileBusy as exc:
        return _finish(publication, PublicationOutcome.BUSY, f"{exc}; publish again.", actor)
    except OSError as exc:
        return _finish(
            publication,
            PublicationOutcome.FAILED,
            f"The rules file {path} could not be written ({exc}); the file in force is unchanged.",
            actor,
        )
    except Exception as exc:  # a bug must not turn a saved row into a 500
        logger.exception("publishing the alert rules failed")
        return _finish(publication, PublicationOutcome.FAILED, f"Unexpected error: {exc!r}", actor)


def _publish_locked(
    publication: RulePublication, path, url: str, actor: Actor, started: float
) -> RulePublication:
    rendered = _render(publication)
    checked = promtool.check_rules_text(rendered.text)
    if checked.checked and not checked.ok:
        return _finish(
            publication,
            PublicationOutcome.INVALID,
            "promtool check rules refused the file, so nothing was written and the rules in "
            "force are unchanged:\n" + "\n".join(checked.errors),
            actor,
        )
    previous = rule_file_store.read_rule_file(path)
    rule_file_store.replace_rule_file(path, rendered.text)
    summary = f"{rendered.rule_count} rules in {len(rendered.groups)} groups"
    if not url:
        return _finish(
            publication,
            PublicationOutcome.WRITTEN,
            f"Wrote {summary} to {path}. PROMETHEUS_URL is not set, so Prometheus was not "
            "reloaded: it loads the file at its next start or reload.",
            actor,
        )
    try:
        server.reload_prometheus(url)
    except server.PrometheusRefused as exc:
        rule_file_store.restore_rule_file(path, previous)
        try:
            server.reload_prometheus(url)  # on the good file again (clears its failure state)
        except server.PrometheusError:
            logger.warning("Prometheus reload on the restored rules file failed", exc_info=True)
        findings = _diagnose_refusal(url, publication)
        why = (
            "Prometheus's own parser on the rules changed since the rules in force: "
            + "; ".join(findings)
            if findings
            else "the expressions changed since the rules in force parse; look at their "
            "labels and annotation templates, and at Prometheus's log"
        )
        return _finish(
            publication,
            PublicationOutcome.REFUSED,
            f"{exc}\nWhy: {why}.\nThe previous rules file is back in {path} and stays in "
            "force; fix or disable the rule named, and save again.",
            actor,
        )
    except server.PrometheusUnreachable as exc:
        if previous is None:
            message = (
                f"{exc}. This is the first rules file, so it stays in {path}: Prometheus "
                "loads it when it starts."
            )
        else:
            rule_file_store.restore_rule_file(path, previous)
            message = (
                f"{exc}. The previous rules file is back in {path} and stays in force; "
                "publish again once Prometheus is back (admin action 'Publish the rules to "
                "Prometheus now', or `manage.py export_alert_rules`)."
            )
        return _finish(publication, PublicationOutcome.UNREACHABLE, message, actor)
    try:
        problems = _confirm(url, rendered, str(path))
    except server.PrometheusError as exc:
        problems = [f"its rules API did not answer: {exc}"]
    elapsed = time.monotonic() - started
    if problems:
        return _finish(
            publication,
            PublicationOutcome.NOT_CONFIRMED,
            f"Wrote {summary} to {path} and Prometheus at {url} reloaded, but "
            + "; ".join(problems)
            + f". Does its rule_files name {path.name} (docs/alerting.md, 'Going live')?",
            actor,
        )
    return _finish(
        publication,
        PublicationOutcome.LIVE,
        f"Prometheus at {url} loaded {summary} from {path.name} ({elapsed:.1f}s).",
        actor,
    )
