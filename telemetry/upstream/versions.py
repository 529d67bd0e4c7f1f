"""The OpenTelemetry distributions the fast paths were tested with, at their exact versions.

The fast paths copy or call private code of these distributions (telemetry.upstream.
private_api), so any other version, newer or older, may have moved it: a process whose
installed versions differ uses the stock components instead (telemetry.pipeline.fast_paths).
The versions are those of requirements.lock (a test holds them equal). Upgrading one: re-check
the symbols the list names for it, run the tests docs/upstream.md lists, then update both.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

# Every distribution whose private code, or whose behaviour, a fast path reproduces.
TESTED_VERSIONS: dict[str, str] = {
    # BoundedAttributes' dict (span encoder), the metrics and trace API the SDK implements.
    "opentelemetry-api": "1.45.1",
    # Span internals, the metric reader's collection and temporality, the MeterProvider.
    "opentelemetry-sdk": "1.45.1",
    # The wire format the span and log encoders write byte for byte.
    "opentelemetry-proto": "1.45.1",
    # The official span and log encoders, which ours mirror and fall back to.
    "opentelemetry-exporter-otlp-proto-common": "1.45.1",
    # The span and log exporters ours subclass (gRPC: _translate_data; HTTP: a copy of
    # export()).
    "opentelemetry-exporter-otlp-proto-grpc": "1.45.1",
    "opentelemetry-exporter-otlp-proto-http": "1.45.1",
    # The HTTP exporter's client and self-metrics, which the copied export() calls.
    "opentelemetry-exporter-otlp-common": "0.66b1",
    # _semconv and _start_internal_or_server_span (server-span middleware).
    "opentelemetry-instrumentation": "0.66b1",
    # _DjangoMiddleware, which the server-span middleware subclasses and replaces.
    "opentelemetry-instrumentation-django": "0.66b1",
    # CursorTracer.traced_execution, which the database-span shortcut (db_spans) wraps and
    # whose work for a span that does not record it leaves out.
    "opentelemetry-instrumentation-dbapi": "0.66b1",
    # The request and response attributes the server-span middleware sets through it.
    "opentelemetry-instrumentation-wsgi": "0.66b1",
    # Method sanitizing and the excluded-URL matching the middleware reproduces.
    "opentelemetry-util-http": "0.66b1",
}


@dataclass(frozen=True)
class VersionMismatch:
    """A distribution installed at another version than the tested one (None: absent)."""

    distribution: str
    installed: str | None
    tested: str

    def describe(self) -> str:
        """'opentelemetry-sdk 1.46.0 installed, tested with 1.45.1'."""
        installed = f"{self.installed} installed" if self.installed else "not installed"
        return f"{self.distribution} {installed}, tested with {self.tested}"


def installed_version(distribution: str) -> str | None:
    """The installed version of `distribution`, None when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def version_mismatches(tested: dict[str, str] | None = None) -> list[VersionMismatch]:
    """The distributions of `tested` (default TESTED_VERSIONS) not installed at exactly
    their tested version, in the table's order."""
    table = TESTED_VERSIONS if tested is None else tested
    mismatches = []
    for distribution, version in table.items():
        installed = installed_version(distribution)
        if installed != version:
            mismatches.append(VersionMismatch(distribution, installed, version))
    return mismatches
