"""Fixtures of the in-process telemetry tests, in every capability's folder: the process's
real telemetry exporting to memory, and a record of the SDK's synchronous measurements."""

from __future__ import annotations

import pytest

from tests.telemetry.in_memory import InMemoryTelemetry, configure_in_memory_telemetry


@pytest.fixture(scope="session")
def otel_session() -> InMemoryTelemetry:
    """Set up once, at session scope: before any per-test settings override (tests/conftest.py
    overrides CACHES for every test), whose revert would also drop the middleware the
    instrumentation adds to settings.MIDDLEWARE."""
    return configure_in_memory_telemetry()


@pytest.fixture
def otel(otel_session: InMemoryTelemetry) -> InMemoryTelemetry:
    """The process's telemetry, exporting to memory, with empty span and log exporters."""
    otel_session.spans.clear()
    otel_session.logs.clear()
    return otel_session


@pytest.fixture
def synchronous_measurements(monkeypatch) -> list[str]:
    """The instrument name of every synchronous SDK measurement made during the test (each
    costs a copy, hash and lock of its attributes: what the cost tests count)."""
    from opentelemetry.sdk.metrics._internal.measurement_consumer import (
        SynchronousMeasurementConsumer,
    )

    names: list[str] = []
    consume = SynchronousMeasurementConsumer.consume_measurement

    def recording_consume(self, measurement):
        names.append(measurement.instrument.name)
        return consume(self, measurement)

    monkeypatch.setattr(SynchronousMeasurementConsumer, "consume_measurement", recording_consume)
    return names
