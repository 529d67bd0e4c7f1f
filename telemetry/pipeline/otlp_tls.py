"""The OTLP link's TLS, as the standard variables configure it, checked once at start-up.

The SDK's exporters read OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY
(and their per-signal forms, which win) themselves, for gRPC and HTTP. What they do not do
well, and this module does:

- A missing or unreadable file: the gRPC exporter logs a traceback and falls back to the
  system's CAs, the HTTP one fails every export. Here it is one line at start-up naming the
  variable and the file, and that signal is not exported (kept in process) rather than sent
  to a collector that cannot be trusted.
- A certificate the collector does not match (a wrong CA): the handshake fails in the export
  thread at every batch and retry, each logged by the exporter (and by gRPC's C core on
  stderr). Here the first is reported in one line, the repeats are not; requests are never
  held (the batch processors drop what they cannot send).
- The HTTP exporters' requests.Session lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (set in
  many images) replace the CA the OTLP variable names, for every request: here the session
  keeps the OTLP CA.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

_PEM_MARKERS = {
    "CERTIFICATE": "-----BEGIN CERTIFICATE-----",
    "CLIENT_CERTIFICATE": "-----BEGIN CERTIFICATE-----",
    "CLIENT_KEY": "PRIVATE KEY-----",
}
_WHAT = {
    "CERTIFICATE": "the CA certificate (PEM) that signed the collector's certificate",
    "CLIENT_CERTIFICATE": "this service's client certificate (PEM)",
    "CLIENT_KEY": "the private key (PEM) of the client certificate",
}


@dataclass(frozen=True)
class TlsFile:
    """One file an OTLP variable names: which variable (the per-signal one, else the
    generic one), the path, and what it should hold."""

    variable: str
    path: str
    role: str  # "CERTIFICATE", "CLIENT_CERTIFICATE" or "CLIENT_KEY"


def tls_files(signal: str) -> dict[str, TlsFile]:
    """The TLS files configured for `signal` ("traces", "metrics", "logs"), by role, the
    per-signal variable first as the exporters read them."""
    files = {}
    for role in _PEM_MARKERS:
        per_signal = f"OTEL_EXPORTER_OTLP_{signal.upper()}_{role}"
        for variable in (per_signal, f"OTEL_EXPORTER_OTLP_{role}"):
            path = os.environ.get(variable, "").strip()
            if path:
                files[role] = TlsFile(variable, path, role)
                break
    return files


def _file_problem(tls_file: TlsFile) -> str | None:
    try:
        with open(tls_file.path, "rb") as handle:
            head = handle.read(1 << 20)
    except FileNotFoundError:
        reason = "no such file"
    except IsADirectoryError:
        reason = "a directory, not a file"
    except PermissionError:
        reason = "not readable by this process"
    except OSError as error:
        reason = error.strerror or str(error)
    else:
        if _PEM_MARKERS[tls_file.role].encode() in head:
            return None
        reason = "not PEM" if b"-----BEGIN" not in head else "not the PEM it should be"
    return f"{tls_file.variable}={tls_file.path}: {reason} ({_WHAT[tls_file.role]})"


def tls_problem(signal: str) -> str | None:
    """Why the TLS files configured for `signal` cannot be used, in one phrase naming the
    variable; None when they can (or none is configured)."""
    files = tls_files(signal)
    for tls_file in files.values():
        problem = _file_problem(tls_file)
        if problem:
            return problem
    if ("CLIENT_CERTIFICATE" in files) != ("CLIENT_KEY" in files):
        present, missing = (
            ("CLIENT_CERTIFICATE", "CLIENT_KEY")
            if "CLIENT_CERTIFICATE" in files
            else ("CLIENT_KEY", "CLIENT_CERTIFICATE")
        )
        return (
            f"{files[present].variable} is set without OTEL_EXPORTER_OTLP_{missing}: mutual "
            "TLS needs the client certificate and its key"
        )
    return None


def plaintext_warning(signal: str, endpoint: str | None) -> str | None:
    """A certificate configured for an http:// endpoint: the exporters then send in
    plaintext and never read it. Worth a line, since the operator meant TLS."""
    if endpoint and endpoint.startswith("http://") and tls_files(signal):
        names = ", ".join(sorted(f.variable for f in tls_files(signal).values()))
        return (
            f"{names} set, but the OTLP endpoint {endpoint} is http://: sent in plaintext "
            "(an https:// endpoint uses the certificates)"
        )
    return None


def http_session(signal: str):
    """A requests.Session for an OTLP/HTTP exporter of `signal` that keeps the configured CA
    over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE; None (the exporter's own) when no CA is set."""
    if "CERTIFICATE" not in tls_files(signal):
        return None
    import requests

    class _OtlpSession(requests.Session):
        # requests merges the environment's CA bundle into every request's `verify`, over
        # the session's (psf/requests#3829): the exporter sets the OTLP CA on the session.
        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
            merged["verify"] = self.verify if verify is None else verify
            return merged

    return _OtlpSession()


# --- A refused handshake, reported once -----------------------------------------------------

# The exporters' loggers: each logs every failed attempt of every batch.
EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
)
_TLS_FAILURE_MARKERS = (
    "CERTIFICATE_VERIFY_FAILED",
    "certificate verify failed",
    "Tls handshake failed",
    "Ssl handshake failed",
    "SSLError",
    "SSL_ERROR",
    "tlsv1 alert",
    "TLSV1_ALERT",
    "No required SSL certificate",
)


class TlsFailureReport(logging.Filter):
    """Drops the exporters' records of a failed TLS handshake, after saying once, in one
    line, what failed and which variables to check.

    The gRPC exporter's failure records carry the handshake's error; the HTTP exporters'
    do not (the detail is in their WARNING retries, below the level settings.LOGGING lets
    through), so a check at start-up (check_handshakes) reports theirs. Once a handshake
    failed, every export failure of this process is that one (the certificates are read
    at start-up): the detail-less ones are dropped too."""

    def __init__(self) -> None:
        super().__init__()
        self.reported = False
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record we cannot read is not ours to drop
            return True
        if not any(marker in message for marker in _TLS_FAILURE_MARKERS):
            return not (self.reported and message.startswith(("Failed to export", "Transient")))
        self.report(_reason(message))
        return False

    def report(self, reason: str, where: str = "the OTLP collector") -> None:
        """Say once per process that the handshake with `where` failed, and why."""
        with self._lock:
            first, self.reported = not self.reported, True
        if first:
            logger.error(
                "telemetry: the TLS handshake with %s failed (%s); check "
                "OTEL_EXPORTER_OTLP_CERTIFICATE (the CA that signed the collector's "
                "certificate) and, for mutual TLS, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and "
                "_CLIENT_KEY. What cannot be sent is dropped; requests are served as usual. "
                "Further TLS failures of this process are not logged.",
                where,
                reason,
            )


def _reason(message: str) -> str:
    """The most telling part of an exporter's message about a failed handshake."""
    for marker in ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed"):
        index = message.find(marker)
        if index >= 0:
            return message[index : index + 120].split("(_ssl")[0].split(": OK")[0].strip()
    for marker in _TLS_FAILURE_MARKERS:
        index = message.find(marker)
        if index >= 0:
            return message[index : index + 120].strip()
    return "TLS"


_report = TlsFailureReport()


def report_tls_failures_once() -> TlsFailureReport:
    """Install the once-only report of refused handshakes on the exporters' loggers
    (idempotent); returns it."""
    for name in EXPORTER_LOGGERS:
        exporter_logger = logging.getLogger(name)
        if _report not in exporter_logger.filters:
            exporter_logger.addFilter(_report)
    return _report


def check_handshakes(signals) -> threading.Thread | None:
    """Check, in a background thread (never holding start-up or a request), the TLS
    handshake with each https:// OTLP endpoint of `signals` (SignalConfig) that is exported,
    with the CA and client certificate its variables name; a refused handshake is reported
    once (TlsFailureReport). An unreachable collector is not a TLS problem: left to the
    exporters' usual retries. Returns the thread, if one was started."""
    targets: dict[tuple, list[str]] = {}
    for signal in signals:
        endpoint = signal.endpoint or ""
        if not (signal.exported and signal.exporter == "otlp" and endpoint.startswith("https://")):
            continue
        parts = urlsplit(endpoint)
        files = tls_files(signal.name)
        key = (
            parts.hostname or "localhost",
            parts.port or 443,
            files["CERTIFICATE"].path if "CERTIFICATE" in files else None,
            files["CLIENT_CERTIFICATE"].path if "CLIENT_CERTIFICATE" in files else None,
            files["CLIENT_KEY"].path if "CLIENT_KEY" in files else None,
            "h2" if signal.protocol == "grpc" else "http/1.1",
        )
        targets.setdefault(key, []).append(signal.name)
    if not targets:
        return None
    thread = threading.Thread(
        target=_check_all, args=(targets,), name="telemetry-tls-check", daemon=True
    )
    thread.start()
    return thread


def _check_all(targets: dict[tuple, list[str]]) -> None:
    for (host, port, ca, certificate, key, alpn), names in targets.items():
        reason = handshake_problem(host, port, ca, certificate, key, alpn)
        if reason:
            _wait_for_logging()
            _report.report(reason, f"the OTLP collector at {host}:{port} ({', '.join(names)})")
            return


def handshake_problem(
    host: str,
    port: int,
    ca: str | None,
    certificate: str | None,
    key: str | None,
    alpn: str = "http/1.1",
    timeout: float = 5.0,
) -> str | None:
    """Why a TLS handshake with host:port fails with these files, None when it succeeds
    (or the address does not answer: not a TLS matter)."""
    try:
        context = ssl.create_default_context(cafile=ca)
        if certificate:
            context.load_cert_chain(certificate, key)
        context.set_alpn_protocols([alpn])
    except (OSError, ssl.SSLError) as error:
        return f"the certificate files cannot be loaded: {error}"
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=host):
                return None
    except ssl.SSLCertVerificationError as error:
        return f"certificate verify failed: {error.verify_message}"
    except ssl.SSLError as error:
        return error.reason or str(error)
    except OSError:
        return None


def _wait_for_logging(timeout: float = 30) -> None:
    """Until Django has configured logging (gunicorn's post_fork runs before it does), so
    the report reaches the configured handlers."""
    from django.apps import apps

    deadline = time.monotonic() + timeout
    while not apps.ready and time.monotonic() < deadline:
        time.sleep(0.1)
