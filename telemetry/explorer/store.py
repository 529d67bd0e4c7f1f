"""Whether this process keeps its telemetry in the local store, and the exporters that write
it: the one call telemetry.pipeline.providers makes (it wraps them in its batch processors).

TELEMETRY_LOCAL_STORE: "on", "off", or "auto" (the default): on when no OTLP endpoint is
configured for traces or logs, so that what the process records is not lost but shown in the
console; off when a collector takes it (switch it on to keep a short ring beside Jaeger).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

from telemetry.explorer.writer import (
    StoreLogRecordExporter,
    StoreSpanExporter,
    StoreWriter,
)
from telemetry.explorer.writer import (  # re-exported for manage.py migrate's set-up
    leave_schema_to_migrate as leave_schema_to_migrate,
)


class _Signal(Protocol):
    @property
    def exporter(self) -> str: ...

    @property
    def endpoint(self) -> str | None: ...


class _Config(Protocol):
    """What this module reads of telemetry.pipeline.config.TelemetryConfig."""

    @property
    def traces(self) -> _Signal: ...

    @property
    def logs(self) -> _Signal: ...


@dataclass(frozen=True)
class LocalStoreExporters:
    """The store's exporters for this process (None: that signal is not kept)."""

    spans: StoreSpanExporter | None
    logs: StoreLogRecordExporter | None


# This process's writer, once store_exporters() built it (the pages say whether this process
# writes the store, and whether its last write failed).
_writer: StoreWriter | None = None


def active_writer() -> StoreWriter | None:
    """The writer of this process's telemetry, or None when this process keeps none."""
    return _writer


def store_mode() -> str:
    return str(getattr(settings, "TELEMETRY_LOCAL_STORE", "auto")).lower()


def otlp_configured(config: _Config) -> bool:
    return any(
        signal.exporter == "otlp" and bool(signal.endpoint)
        for signal in (config.traces, config.logs)
    )


def local_store_enabled(config: _Config, *, in_memory: bool = False) -> bool:
    """Whether this process writes the local store.

    in_memory: the process already keeps its telemetry in memory (the in-process tests hand
    configure_telemetry in-memory processors); "auto" then leaves the store off, "on" does not.
    """
    mode = store_mode()
    if mode == "on":
        return True
    if mode == "off":
        return False
    return not otlp_configured(config) and not in_memory


def store_exporters(config: _Config, *, in_memory: bool = False) -> LocalStoreExporters | None:
    """The exporters of the local store for this process, or None when it keeps nothing.

    A signal switched off (OTEL_TRACES_EXPORTER=none, OTEL_LOGS_EXPORTER=none) is not kept
    either. Built after any fork (the writer's database connections are per thread anyway).
    """
    if not local_store_enabled(config, in_memory=in_memory):
        return None
    spans = config.traces.exporter != "none"
    logs = config.logs.exporter != "none"
    if not (spans or logs):
        return None
    global _writer
    writer = _writer = StoreWriter()
    return LocalStoreExporters(
        spans=StoreSpanExporter(writer) if spans else None,
        logs=StoreLogRecordExporter(writer) if logs else None,
    )
