"""Fixtures of the in-process telemetry tests: a record of the SDK's synchronous measurements
(the process's real telemetry exporting to memory, `otel`, is in tests/conftest.py: the
domain apps' tests read it too)."""

from __future__ import annotations

import pytest


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
