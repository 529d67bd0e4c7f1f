"""The audit trail of alerting: who created, changed, enabled, disabled, deleted, exported,
published or reloaded rules and SLOs, from the admin, the API or a command.

Django's admin log covers only the admin; this one is written by every path that changes
what Prometheus evaluates, and keeps the actor's name after the account is gone.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Model

from telemetry.models import (
    SLO,
    AlertingAuditEntry,
    AlertRule,
    AuditAction,
    RulePublication,
    Source,
)

RULE_FIELDS = (
    "group",
    "name",
    "expr",
    "for_duration",
    "severity",
    "labels",
    "summary",
    "description",
    "runbook",
    "enabled",
)
SLO_FIELDS = (
    "name",
    "description",
    "objective",
    "window",
    "good_series",
    "total_series",
    "labels",
    "runbook",
    "enabled",
)


@dataclass(frozen=True)
class Actor:
    """Who did it and from where: a user (admin, API) or a command run on a host."""

    source: str
    label: str
    user: Any = None

    @classmethod
    def from_request(cls, request: Any, source: str) -> Actor:
        user = request.user if request.user.is_authenticated else None
        return cls(source=source, label=user.get_username() if user else "anonymous", user=user)

    @classmethod
    def for_command(cls, command: str) -> Actor:
        # The operating-system account and host that ran it: commands have no Django user.
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
        return cls(
            source=Source.COMMAND, label=f"{who}@{socket.gethostname()}: manage.py {command}"
        )


def tracked_fields(row: Model) -> tuple[str, ...]:
    return SLO_FIELDS if isinstance(row, SLO) else RULE_FIELDS


def _plain(value: Any) -> Any:
    # JSON-ready, and comparable: 99.5 and the stored 99.5000 are the same objective.
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, str | int | float | bool | dict | list | type(None)):
        return value
    return str(value)


def stored_values(row: Model) -> dict[str, Any]:
    """The row's tracked fields as the database holds them now ({} for a new row)."""
    if row.pk is None:
        return {}
    stored = type(row)._default_manager.filter(pk=row.pk).values(*tracked_fields(row)).first()
    return {name: _plain(value) for name, value in (stored or {}).items()}


def target_label(row: Model) -> str:
    if isinstance(row, AlertRule):
        return f"{row.group}/{row.name}"
    return str(getattr(row, "name", row))


def target_type(row: Model) -> str:
    return "SLO" if isinstance(row, SLO) else "alert rule"


def record(
    *,
    actor: Actor,
    action: str,
    row: Model | None = None,
    label: str = "",
    kind: str = "",
    changes: dict[str, Any] | None = None,
    detail: str = "",
    publication: RulePublication | None = None,
) -> AlertingAuditEntry:
    """One entry of the trail."""
    return AlertingAuditEntry.objects.create(
        actor=actor.user,
        actor_label=actor.label[:254],
        source=actor.source,
        action=action,
        target_type=target_type(row) if row is not None else kind,
        target_id=row.pk if row is not None else None,
        target_label=(target_label(row) if row is not None else label)[:300],
        changes=changes or {},
        detail=detail,
        publication=publication,
    )


def record_saved(*, actor: Actor, row: Model, before: dict[str, Any]) -> AlertingAuditEntry | None:
    """The entry for a saved row: created, enabled or disabled (when that is all that
    changed), or changed with each field's before and after; None when nothing changed."""
    after = {name: _plain(getattr(row, name)) for name in tracked_fields(row)}
    if not before:
        return record(actor=actor, action=AuditAction.CREATED, row=row, changes={})
    changes = {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }
    if not changes:
        return None
    if set(changes) == {"enabled"}:
        action = AuditAction.ENABLED if after["enabled"] else AuditAction.DISABLED
    else:
        action = AuditAction.CHANGED
    return record(actor=actor, action=action, row=row, changes=changes)


def record_deleted(*, actor: Actor, row: Model) -> AlertingAuditEntry:
    """The entry for a row about to be deleted, with what it held."""
    held = {name: [_plain(getattr(row, name)), None] for name in tracked_fields(row)}
    return record(actor=actor, action=AuditAction.DELETED, row=row, changes=held)
