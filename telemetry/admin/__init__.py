"""The telemetry admin, one module per domain; importing them registers their ModelAdmins."""

from telemetry.admin import alerting, profiling, sampling

__all__ = ["alerting", "profiling", "sampling"]
