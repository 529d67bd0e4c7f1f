"""Fixtures of the in-process telemetry tests: a sampling policy of the test's own, a record of
the SDK's synchronous measurements
(the process's real telemetry exporting to memory, `otel`, is in tests/conftest.py: the
domain apps' tests read it too)."""

from __future__ import annotations

import pytest

from telemetry.control import channels as control
from telemetry.sampling.policy import ENV_POLICY, policy_channel
from tests.telemetry.sampling.support import use_policy


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


@pytest.fixture
def sampling_policy(settings):
    """Pauses the poller (it would reload the policy from the database), and gives back the
    environment's policy after the test, so the other telemetry tests keep every span."""
    settings.TELEMETRY_CONTROL_ENABLED = False
    control.wait_for_poll_under_way()
    yield use_policy
    policy_channel.reset(ENV_POLICY)
