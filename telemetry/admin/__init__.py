"""The telemetry admin, one module per domain; importing them registers their ModelAdmins."""

from telemetry.admin import alerting, explorer, profiling, sampling

__all__ = ["alerting", "explorer", "profiling", "sampling"]
