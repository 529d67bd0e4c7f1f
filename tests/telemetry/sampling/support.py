"""Helpers for the sampling tests: policy snapshots built without the database, and a
private TracerProvider that samples with the real PolicySampler into memory."""

from __future__ import annotations

import os
import re
import time

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from telemetry.control import channels as control
from telemetry.sampling.policy import (
    ENV_POLICY,
    CompiledRule,
    PolicySnapshot,
    RootDecision,
    _forced_results,
    policy_channel,
)
from telemetry.sampling.sampler import PolicySampler


def snapshot(default: float, *rules: tuple[str, str, float], **fields) -> PolicySnapshot:
    """A policy: default ratio and (kind, pattern, ratio) rules, labelled 'rule N'."""
    compiled = tuple(
        CompiledRule(kind, re.compile(pattern), RootDecision.build(f"rule {i}", ratio))
        for i, (kind, pattern, ratio) in enumerate(rules, start=1)
    )
    return PolicySnapshot(
        from_env=False,
        default=RootDecision.build("default", default),
        rules=compiled,
        forced=_forced_results(),
        **fields,
    )


def use_policy(policy: PolicySnapshot) -> None:
    """Make this process's snapshot `policy` (until the fixture resets it)."""
    policy_channel.reset(policy)


@pytest.fixture(name="sampling_policy")
def sampling_policy_fixture(settings):
    """Pauses the poller (it would reload the policy from the database), and gives back the
    environment's policy after the test, so the other telemetry tests keep every span."""
    settings.TELEMETRY_CONTROL_ENABLED = False
    if control._poller_pid == os.getpid():
        time.sleep(0.1)  # let a poll already under way finish before the test sets a policy
    yield use_policy
    policy_channel.reset(ENV_POLICY)


def memory_tracer(policy: PolicySnapshot | None = None):
    """(tracer, exporter): a TracerProvider of its own with a PolicySampler that obeys
    `policy` (None: this process's snapshot), exporting to memory."""
    exporter = InMemorySpanExporter()
    sampler = PolicySampler() if policy is None else PolicySampler(policy=lambda: policy)
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("sampling-tests"), exporter
