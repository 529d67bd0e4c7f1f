"""What telemetry a process sends, and where: read once from the environment and settings.

The OpenTelemetry variables come first (OTEL_SDK_DISABLED, OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_TRACES_EXPORTER, ...), then the Django settings for what
the conventions do not cover (TELEMETRY_TRACES_ENABLED, TELEMETRY_LOG_LEVEL, ...). Values the
SDK reads by itself (OTEL_BSP_*, OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER ...) are left
to it; the ones we act on are validated here, so a typo fails at start-up naming the variable.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from common.env import envbool, envint
from telemetry.pipeline.otlp_tls import plaintext_warning, tls_problem

SIGNALS = ("traces", "metrics", "logs")
PROTOCOLS = ("grpc", "http/protobuf")
EXPORTERS = ("otlp", "console", "none")
# OTEL_EXPORTER_PROMETHEUS_PORT: one port, or a range "9464-9467" for several processes.
_PORT_RANGE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


@dataclass(frozen=True)
class SignalConfig:
    """How one signal (traces, metrics or logs) leaves the process."""

    name: str
    exporter: str  # "otlp", "console" or "none"
    protocol: str  # "grpc" or "http/protobuf"; meaningful for "otlp" only
    endpoint: str | None  # None: no endpoint configured for this signal
    # Why the OTLP certificate files cannot be used (the signal is then not exported).
    tls_problem: str | None = None
    # A certificate configured for an http:// endpoint (sent in plaintext): said once.
    tls_warning: str | None = None

    @property
    def exported(self) -> bool:
        if self.exporter == "console":
            return True
        return self.exporter == "otlp" and bool(self.endpoint) and self.tls_problem is None


@dataclass(frozen=True)
class TelemetryConfig:
    sdk_disabled: bool
    traces: SignalConfig
    metrics: SignalConfig
    logs: SignalConfig
    log_level: int  # the lowest level sent over OTLP
    metric_export_interval_ms: int
    service_name: str
    service_version: str
    deployment_environment: str
    # OTEL_METRICS_EXPORTER lists "prometheus": (host, ports) this process serves its
    # metrics on for scraping, besides (or instead of) pushing them.
    prometheus_pull: tuple[str, range] | None = None
    # The W3C `traceresponse` header on every traced response (TELEMETRY_TRACE_RESPONSE).
    trace_response: bool = True

    def tls_lines(self) -> tuple[list[str], list[str]]:
        """(errors, warnings) about the OTLP certificates: one line per distinct problem,
        naming the signals it concerns."""
        errors: dict[str, list[str]] = {}
        warnings: dict[str, list[str]] = {}
        for signal in (self.traces, self.metrics, self.logs):
            if signal.tls_problem:
                errors.setdefault(signal.tls_problem, []).append(signal.name)
            if signal.tls_warning:
                warnings.setdefault(signal.tls_warning, []).append(signal.name)
        return (
            [
                f"telemetry: {', '.join(names)} not exported (kept in process, requests are "
                f"served as usual): {problem}"
                for problem, names in errors.items()
            ],
            [f"telemetry: {warning}" for warning in warnings],
        )

    def describe(self) -> str:
        """One line that says where each signal goes, for the start-up log."""
        if self.sdk_disabled:
            return "telemetry is off (OTEL_SDK_DISABLED=true)"
        parts = []
        for signal in (self.traces, self.metrics, self.logs):
            if signal.exporter == "none":
                parts.append(f"{signal.name}: off")
            elif signal.exporter == "console":
                parts.append(f"{signal.name}: console")
            elif signal.endpoint and signal.tls_problem:
                parts.append(f"{signal.name}: not exported (unusable OTLP certificate, see below)")
            elif signal.endpoint:
                parts.append(f"{signal.name}: OTLP {signal.protocol} {signal.endpoint}")
            else:
                parts.append(f"{signal.name}: kept in process (no OTLP endpoint)")
        if self.prometheus_pull:
            host, ports = self.prometheus_pull
            parts.append(f"metrics also scraped at {host}:{ports.start}-{ports.stop - 1}")
        hint = ""
        signals = (self.traces, self.metrics, self.logs)
        if not any(s.exported or s.tls_problem for s in signals):
            hint = "; set OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://127.0.0.1:4317) to export"
        return f"telemetry for {self.service_name}: " + ", ".join(parts) + hint


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in allowed:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


def _metrics_exporters() -> tuple[str | None, bool]:
    """OTEL_METRICS_EXPORTER as a list (the spec allows "otlp,prometheus"): the push exporter
    it names, if any, and whether "prometheus" (pull) is among them."""
    names = [n.strip() for n in os.environ.get("OTEL_METRICS_EXPORTER", "").lower().split(",")]
    names = [n for n in names if n]
    allowed = (*EXPORTERS, "prometheus")
    for name in names:
        if name not in allowed:
            raise ImproperlyConfigured(
                f"OTEL_METRICS_EXPORTER must list some of {', '.join(allowed)}, got {name!r}"
            )
    pushed = [n for n in names if n != "prometheus"]
    if len(pushed) > 1:
        raise ImproperlyConfigured(
            f"OTEL_METRICS_EXPORTER names more than one push exporter: {', '.join(pushed)}"
        )
    if pushed:
        return pushed[0], "prometheus" in names
    return ("none" if names else None), "prometheus" in names


def _prometheus_pull() -> tuple[str, range] | None:
    if not _metrics_exporters()[1]:
        return None
    host = os.environ.get("OTEL_EXPORTER_PROMETHEUS_HOST", "").strip() or "127.0.0.1"
    raw = os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT", "").strip() or "9464"
    match = _PORT_RANGE.match(raw)
    first, last = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
    if not match or not 0 < first <= last <= 65535:
        raise ImproperlyConfigured(
            f"OTEL_EXPORTER_PROMETHEUS_PORT must be a port or a range like 9464-9467, got {raw!r}"
        )
    return host, range(first, last + 1)


def _signal_config(signal: str, enabled_by_settings: bool) -> SignalConfig:
    upper = signal.upper()
    # OTEL_<SIGNAL>_EXPORTER wins over the Django setting; only the exporters we build exist.
    default = "otlp" if enabled_by_settings else "none"
    if signal == "metrics":
        exporter = _metrics_exporters()[0] or default
    else:
        exporter = _choice(f"OTEL_{upper}_EXPORTER", default, EXPORTERS)
    protocol = _choice(
        f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL",
        _choice("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", PROTOCOLS),
        PROTOCOLS,
    )
    endpoint = (
        os.environ.get(f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT", "").strip()
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        or None
    )
    if endpoint and not endpoint.startswith(("http://", "https://")):
        variable = (
            f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT"
            if os.environ.get(f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT", "").strip()
            else "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        raise ImproperlyConfigured(
            f"{variable} must be a URL starting with http:// or https://, got {endpoint!r}"
        )
    exported_over_otlp = exporter == "otlp" and bool(endpoint)
    return SignalConfig(
        name=signal,
        exporter=exporter,
        protocol=protocol,
        endpoint=endpoint,
        tls_problem=tls_problem(signal) if exported_over_otlp else None,
        tls_warning=plaintext_warning(signal, endpoint) if exported_over_otlp else None,
    )


def load_config() -> TelemetryConfig:
    """Read and validate the telemetry configuration of this process."""
    log_level_name = str(getattr(settings, "TELEMETRY_LOG_LEVEL", "INFO")).upper()
    if log_level_name not in _LOG_LEVELS:
        raise ImproperlyConfigured(
            f"TELEMETRY_LOG_LEVEL must be one of {', '.join(sorted(_LOG_LEVELS))}, "
            f"got {log_level_name!r}"
        )
    # The SDK reads these itself, but silently falls back on a bad value: fail loudly instead.
    interval = envint("OTEL_METRIC_EXPORT_INTERVAL", 60000, minimum=1)
    for name in ("OTEL_BSP_SCHEDULE_DELAY", "OTEL_BLRP_SCHEDULE_DELAY"):
        envint(name, 0, minimum=0)
    for name in ("OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"):
        envint(name, 1, minimum=1)
    return TelemetryConfig(
        sdk_disabled=envbool("OTEL_SDK_DISABLED", False),
        traces=_signal_config("traces", getattr(settings, "TELEMETRY_TRACES_ENABLED", True)),
        metrics=_signal_config("metrics", getattr(settings, "TELEMETRY_METRICS_ENABLED", True)),
        logs=_signal_config("logs", getattr(settings, "TELEMETRY_LOGS_ENABLED", True)),
        log_level=logging.getLevelName(log_level_name),
        metric_export_interval_ms=interval,
        service_name=os.environ.get("OTEL_SERVICE_NAME") or settings.SERVICE_NAME,
        service_version=settings.SERVICE_VERSION,
        deployment_environment=settings.DEPLOYMENT_ENVIRONMENT,
        prometheus_pull=_prometheus_pull(),
        trace_response=envbool("TELEMETRY_TRACE_RESPONSE", True),
    )
