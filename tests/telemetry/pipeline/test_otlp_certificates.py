"""The OTLP certificate variables, checked once at start-up: a missing, unreadable or
non-PEM file, or half a client certificate, names the variable and keeps that signal in
process; per-signal variables win over the generic ones; a certificate for an http://
endpoint is said to be unused; the HTTP exporters keep the OTLP CA over REQUESTS_CA_BUNDLE;
a refused handshake in the exporters' logs is reported once."""

from __future__ import annotations

import logging

import pytest

from telemetry.pipeline.config import load_config
from telemetry.pipeline.otlp_tls import (
    EXPORTER_LOGGERS,
    TlsFailureReport,
    http_session,
    plaintext_warning,
    tls_problem,
)

PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_TRACES_EXPORTER",
        "OTEL_METRICS_EXPORTER",
        "OTEL_LOGS_EXPORTER",
    ]:
        monkeypatch.delenv(name, raising=False)
    for role in ("CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"):
        monkeypatch.delenv(f"OTEL_EXPORTER_OTLP_{role}", raising=False)
        for signal in ("TRACES", "METRICS", "LOGS"):
            monkeypatch.delenv(f"OTEL_EXPORTER_OTLP_{signal}_{role}", raising=False)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "ca.pem").write_text(PEM_CERTIFICATE)
    (tmp_path / "client.pem").write_text(PEM_CERTIFICATE)
    (tmp_path / "client-key.pem").write_text(PEM_KEY)
    (tmp_path / "garbage.pem").write_text("not a certificate at all")
    return tmp_path


def test_it_accepts_readable_pem_files(monkeypatch, files):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(files / "ca.pem"))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", str(files / "client.pem"))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", str(files / "client-key.pem"))

    assert [tls_problem(signal) for signal in ("traces", "metrics", "logs")] == [None] * 3


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("missing.pem", "no such file"),
        ("garbage.pem", "not PEM"),
        ("client-key.pem", "not the PEM it should be"),
        (".", "a directory, not a file"),
    ],
)
def test_it_names_the_variable_and_the_problem(monkeypatch, files, name, reason):
    path = files / name
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(path))

    assert tls_problem("traces") == (
        f"OTEL_EXPORTER_OTLP_CERTIFICATE={path}: {reason} "
        "(the CA certificate (PEM) that signed the collector's certificate)"
    )


def test_a_client_certificate_without_its_key_is_a_problem(monkeypatch, files):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE", str(files / "client.pem"))

    assert tls_problem("metrics") == (
        "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE is set without "
        "OTEL_EXPORTER_OTLP_CLIENT_KEY: mutual TLS needs the client certificate and its key"
    )
    assert tls_problem("traces") is None


def test_the_per_signal_variable_wins_over_the_generic_one(monkeypatch, files):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(files / "missing.pem"))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", str(files / "ca.pem"))

    assert tls_problem("logs") is None
    assert "OTEL_EXPORTER_OTLP_CERTIFICATE=" in tls_problem("traces")


def test_a_signal_with_an_unusable_certificate_is_kept_in_process(monkeypatch, files):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", str(files / "missing.pem"))

    config = load_config()

    assert not config.traces.exported
    assert config.metrics.exported and config.logs.exported
    errors, warnings = config.tls_lines()
    assert errors == [
        "telemetry: traces not exported (kept in process, requests are served as usual): "
        f"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE={files / 'missing.pem'}: no such file "
        "(the CA certificate (PEM) that signed the collector's certificate)"
    ]
    assert warnings == []
    assert "traces: not exported (unusable OTLP certificate" in config.describe()


def test_a_certificate_for_an_http_endpoint_is_said_to_be_unused(monkeypatch, files):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(files / "ca.pem"))

    _, warnings = load_config().tls_lines()

    assert warnings == [
        "telemetry: OTEL_EXPORTER_OTLP_CERTIFICATE set, but the OTLP endpoint "
        "http://collector:4317 is http://: sent in plaintext (an https:// endpoint uses the "
        "certificates)"
    ]
    assert plaintext_warning("traces", "https://collector:4317") is None


def test_the_http_exporters_session_keeps_the_otlp_ca(monkeypatch, files):
    ca = str(files / "ca.pem")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", ca)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    session = http_session("traces")
    session.verify = ca  # what the exporter's transport does with the variable

    merged = session.merge_environment_settings("https://collector:4318", {}, None, None, None)

    assert merged["verify"] == ca
    # requests' own session lets the environment win: the bug this session avoids.
    import requests

    plain = requests.Session()
    plain.verify = ca
    assert plain.merge_environment_settings("https://c:4318", {}, None, None, None)["verify"] != ca
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_CERTIFICATE")
    assert http_session("traces") is None  # no CA configured: the exporter's own session


def test_a_refused_handshake_is_reported_once(caplog):
    report = TlsFailureReport()
    exporter_logger = logging.getLogger(EXPORTER_LOGGERS[0])
    exporter_logger.addFilter(report)
    failure = (
        "Failed to export traces to 127.0.0.1:4317, error code: StatusCode.UNAVAILABLE, error "
        "details: failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:4317: "
        "Tls handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:1000007d:SSL "
        "routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED: unable to get local issuer "
        "certificate: OK"
    )
    try:
        with caplog.at_level(logging.ERROR):
            for _ in range(5):
                exporter_logger.error(failure)
            exporter_logger.error("Failed to export metrics batch due to timeout.")
            exporter_logger.error("Something else entirely")
    finally:
        exporter_logger.removeFilter(report)

    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("telemetry: the TLS handshake with the OTLP collector failed (")
    assert "CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate)" in messages[0]
    assert messages[1] == "Something else entirely"
