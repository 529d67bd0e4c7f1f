"""The sampler on real Django requests (the test process's real telemetry set-up): rules
match the route template although the span starts before the view runs, forcing by header
and by API token (a chosen user's new token included)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from telemetry.models import SamplingPolicy
from telemetry.sampling.policy import build_snapshot, current_policy
from tests.factories import SamplingPolicyFactory, SamplingRuleFactory, UserFactory

pytestmark = pytest.mark.django_db


def server_spans(otel) -> dict[str, str | None]:
    """Kept server spans: name -> sampling.rule."""
    return {
        s.name: s.attributes.get("sampling.rule")
        for s in otel.finished_spans()
        if s.name.startswith(("GET", "POST"))
    }


def policy_row(default: float, *rules: tuple[str, str, float], **fields) -> SamplingPolicy:
    policy = SamplingPolicyFactory(default_ratio=default, **fields)
    for position, (kind, pattern, ratio) in enumerate(rules):
        SamplingRuleFactory(
            policy=policy, position=position, kind=kind, pattern=pattern, ratio=ratio
        )
    return policy


def test_a_route_rule_matches_the_route_template_at_span_start(otel, sampling_policy):
    rule_policy = policy_row(1.0, ("http", r"^GET /api/users/\{user_id\}$", 0.0))
    sampling_policy(build_snapshot(rule_policy))
    client = Client()
    client.force_login(UserFactory(is_staff=True))

    assert client.get("/api/users/1").status_code in (200, 404)
    assert client.get("/api/users").status_code == 200

    assert server_spans(otel) == {"GET /api/users": "default"}


def test_a_request_with_the_force_header_is_kept_at_ratio_zero(otel, sampling_policy):
    policy = policy_row(0.0, force_header_name="X-Debug-Trace", force_header_value="s3cret")
    sampling_policy(build_snapshot(policy))
    client = Client()

    client.get("/api/users", HTTP_X_DEBUG_TRACE="s3cret")
    client.get("/api/jobs", HTTP_X_DEBUG_TRACE="guess")
    client.get("/api/process")

    assert server_spans(otel) == {"GET /api/users": "forced: header"}


def test_requests_with_a_chosen_users_token_are_kept(otel, sampling_policy):
    chosen, other = UserFactory(), UserFactory()
    policy = policy_row(0.0)
    policy.force_users.add(chosen)
    chosen_key = Token.objects.create(user=chosen).key
    other_key = Token.objects.create(user=other).key
    sampling_policy(build_snapshot(policy))
    client = Client()

    client.get("/api/users", HTTP_AUTHORIZATION=f"Token {chosen_key}")
    client.get("/api/jobs", HTTP_AUTHORIZATION=f"Token {other_key}")

    assert server_spans(otel) == {"GET /api/users": "forced: user"}


def test_a_chosen_users_new_token_is_announced(sampling_policy, django_capture_on_commit_callbacks):
    chosen = UserFactory()
    policy = policy_row(0.0)
    policy.force_users.add(chosen)
    sampling_policy(build_snapshot(policy))
    assert current_policy().force_tokens == frozenset()

    with django_capture_on_commit_callbacks(execute=True):
        key = Token.objects.create(user=chosen).key

    assert current_policy().force_tokens == {key}
