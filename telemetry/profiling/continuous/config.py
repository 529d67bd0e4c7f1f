"""Continuous profiling's switch, rate and mode as every process holds them in memory.

The admin's ContinuousProfiling row decides (one row); without it the settings do
(PROFILING_CONTINUOUS_DEFAULT_ENABLED, PROFILING_CONTINUOUS_DEFAULT_HZ). An edit reaches every
process through telemetry.control within TELEMETRY_CONTROL_POLL_SECONDS, like the sampling
policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from telemetry.control import channels
from telemetry.models import ContinuousProfiling


@dataclass(frozen=True)
class ContinuousSettings:
    enabled: bool
    sample_hz: int
    mode: str  # ContinuousProfiling.Mode
    source: str  # "admin" or "settings"

    @property
    def summary(self) -> str:
        if not self.enabled:
            return f"off ({self.source})"
        return f"on, {self.sample_hz} samples/s, {self.mode} ({self.source})"


OFF = ContinuousSettings(enabled=False, sample_hz=1, mode="cpu", source="not loaded yet")


def from_settings() -> ContinuousSettings:
    return ContinuousSettings(
        enabled=bool(settings.PROFILING_CONTINUOUS_DEFAULT_ENABLED),
        sample_hz=int(settings.PROFILING_CONTINUOUS_DEFAULT_HZ),
        mode=ContinuousProfiling.Mode.CPU,
        source="settings",
    )


def load_settings() -> ContinuousSettings:
    """The snapshot loader: the admin's row, else the settings' defaults."""
    row = ContinuousProfiling.objects.order_by("pk").first()
    if row is None:
        return from_settings()
    return ContinuousSettings(
        enabled=row.enabled, sample_hz=row.sample_hz, mode=row.mode, source="admin"
    )


continuous_settings: channels.Channel[ContinuousSettings] = channels.register_channel(
    channels.Channel("continuous-profiling", load_settings, empty=OFF)
)


def announce_change() -> None:
    """Tell every process to reload, once the change is committed."""
    transaction.on_commit(continuous_settings.notify_changed)
