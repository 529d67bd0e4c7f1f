"""Whether a rule's or an SLO's current version is in force: the publish status each row shows
in the admin and the API, from the publication log (no call to Prometheus)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from telemetry.alerting import live, publish
from telemetry.models import SLO, AlertRule, PublicationOutcome, RulePublication


@dataclass(frozen=True)
class RowPublication:
    """STATUS: "in_force" (its current version is in the file Prometheus loaded), "pending"
    (changed since the last publication), "failed" (the publication of its change did not go
    live) or "off" (going live not configured)."""

    status: str
    text: str
    publication: RulePublication | None = None

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "text": self.text,
            "publication": self.publication.pk if self.publication else None,
            "outcome": self.publication.outcome if self.publication else None,
        }


def _when(publication: RulePublication) -> str:
    moment = timezone.localtime(publication.finished_at or publication.started_at)
    return f"{moment:%Y-%m-%d %H:%M:%S}"


@dataclass
class PublicationHistory:
    """The two publications a row's status depends on, read once for a whole list."""

    latest: RulePublication | None
    last_in_force: RulePublication | None

    @classmethod
    def load(cls) -> PublicationHistory:
        finished = RulePublication.objects.exclude(finished_at=None).exclude(
            outcome=PublicationOutcome.NOT_CONFIGURED
        )
        return cls(
            latest=finished.first(),
            last_in_force=finished.filter(outcome__in=RulePublication.IN_FORCE).first(),
        )

    def state_of(self, row: AlertRule | SLO) -> RowPublication:
        if not live.going_live_configured():
            return RowPublication("off", live.NOT_CONFIGURED_MESSAGE)
        key = publish.row_key(row)
        in_force = self.last_in_force
        if in_force is not None:
            held = in_force.contents.get(key)
            current = row.enabled and held == publish.row_digest(row)
            gone = not row.enabled and held is None
            if current or gone:
                what = "in force" if row.enabled else "disabled, and out of Prometheus"
                how = "" if in_force.outcome == PublicationOutcome.LIVE else " (not reloaded)"
                since = f"publication #{in_force.pk}{how}, {_when(in_force)}"
                text = f"{what[0].upper()}{what[1:]} since {since}."
                return RowPublication("in_force", text, in_force)
        latest = self.latest
        if latest is not None and not latest.in_force and latest.started_at >= row.updated_at:
            return RowPublication(
                "failed",
                f"Not in force: publication #{latest.pk} ({_when(latest)}) "
                f"{latest.get_outcome_display()}. {latest.message}",
                latest,
            )
        return RowPublication(
            "pending",
            "Not in force yet: changed after the last publication; publish the rules now.",
            latest,
        )
