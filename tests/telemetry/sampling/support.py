"""Helpers for the sampling tests: policy snapshots built without the database, and a
private TracerProvider that samples with the real PolicySampler into memory. The fixture
`sampling_policy` (conftest.py) hands out use_policy and restores the environment's."""

from __future__ import annotations

import re

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from telemetry.sampling.policy import (
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


def memory_tracer(policy: PolicySnapshot | None = None):
    """(tracer, exporter): a TracerProvider of its own with a PolicySampler that obeys
    `policy` (None: this process's snapshot), exporting to memory."""
    exporter = InMemorySpanExporter()
    sampler = PolicySampler() if policy is None else PolicySampler(policy=lambda: policy)
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("sampling-tests"), exporter
