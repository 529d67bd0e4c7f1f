"""Fixtures of the sampling tests."""

from __future__ import annotations

import os
import time

import pytest

from telemetry.control import channels as control
from telemetry.sampling.policy import ENV_POLICY, policy_channel
from tests.telemetry.sampling.support import use_policy


@pytest.fixture
def sampling_policy(settings):
    """Pauses the poller (it would reload the policy from the database), and gives back the
    environment's policy after the test, so the other telemetry tests keep every span."""
    settings.TELEMETRY_CONTROL_ENABLED = False
    if control._poller_pid == os.getpid():
        time.sleep(0.1)  # let a poll already under way finish before the test sets a policy
    yield use_policy
    policy_channel.reset(ENV_POLICY)
