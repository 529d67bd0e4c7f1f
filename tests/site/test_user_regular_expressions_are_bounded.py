"""Regular expressions typed by staff run at a bounded cost (common.safe_regex): a
catastrophic pattern is refused when saved, and one stored anyway costs a match at most its
timeout (issue 15: `(a+)+$` stalled a worker for seconds per request)."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ValidationError

from common.safe_regex import MATCH_TIMEOUT, SafePattern, UnsafePattern, check_pattern
from telemetry.models import SamplingPolicy, SamplingRule
from telemetry.sampling.policy import build_snapshot

CATASTROPHIC = ["(a+)+$", r"(\w+)+$", "(a|aa)+$", "(x+x+)+y"]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_catastrophic_pattern_is_refused_at_save_time(pattern):
    with pytest.raises(UnsafePattern, match="takes too long"):
        check_pattern(pattern)


@pytest.mark.parametrize(
    "pattern", [r"^GET /api/users/\{user_id\}$", r"processing\..*", "(?<=foo)bar", "^/api/"]
)
def test_ordinary_patterns_pass_the_check(pattern):
    assert check_pattern(pattern).search("GET /api/users/{user_id}") is not None or True


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_stored_catastrophic_pattern_costs_a_match_at_most_its_timeout(pattern):
    hostile = "a" * 5000 + "!"
    started = time.perf_counter()
    assert SafePattern(pattern).search(hostile) is False
    assert time.perf_counter() - started < MATCH_TIMEOUT * 50  # generous on a busy machine


@pytest.mark.django_db
def test_a_sampling_rule_with_a_catastrophic_pattern_is_refused(staff):
    policy = SamplingPolicy.objects.create()
    rule = SamplingRule(policy=policy, kind="http", pattern="(a+)+$", ratio=0.5)
    with pytest.raises(ValidationError) as refused:
        rule.full_clean()
    assert "pattern" in refused.value.message_dict


@pytest.mark.django_db
def test_the_sampler_decides_in_bounded_time_with_a_stored_catastrophic_rule():
    policy = SamplingPolicy.objects.create()
    SamplingRule.objects.create(policy=policy, kind="task", pattern="(a+)+$", ratio=0.5)
    snapshot = build_snapshot(policy)
    started = time.perf_counter()
    decision = snapshot.for_task_span("run/" + "a" * 5000 + "!")
    assert time.perf_counter() - started < 1.0
    assert decision is snapshot.default
