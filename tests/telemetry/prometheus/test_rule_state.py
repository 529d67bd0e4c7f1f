"""Reading Prometheus's rules API: times (nanoseconds, Go's zero time), each rule's state and
since when, our file's groups only, and what differs from the file we published."""

from __future__ import annotations

from datetime import UTC, datetime

from telemetry.prometheus.rule_state import differences, loaded_rules, parse_time

# Shaped as Prometheus 2.42 answers GET /api/v1/rules.
GROUPS = [
    {
        "name": "service_alerts",
        "file": "/etc/prometheus/live/observability-site.rules.yml",
        "interval": 15,
        "rules": [
            {
                "type": "alerting",
                "name": "HighErrorRate",
                "query": "x > 0.05",
                "duration": 300,
                "state": "firing",
                "health": "ok",
                "lastError": "",
                "evaluationTime": 0.000451,
                "lastEvaluation": "2026-11-25T16:00:05.123456789Z",
                "labels": {"severity": "warning"},
                "alerts": [
                    {
                        "labels": {"http_route": "/api/process"},
                        "state": "firing",
                        "activeAt": "2026-11-25T15:54:00.5Z",
                        "value": "1e-01",
                    },
                    {
                        "labels": {"http_route": "/api/users"},
                        "state": "pending",
                        "activeAt": "2026-11-25T15:59:00Z",
                        "value": "6e-02",
                    },
                ],
            },
            {
                "type": "alerting",
                "name": "HighLatency",
                "query": "y > 1",
                "state": "inactive",
                "health": "unknown",
                "lastEvaluation": "0001-01-01T00:00:00Z",
                "alerts": [],
            },
        ],
    },
    {
        "name": "service_alerts",
        "file": "/etc/prometheus/rules/hand-written.yml",
        "rules": [{"type": "alerting", "name": "HighErrorRate", "state": "inactive"}],
    },
]


def test_times_are_read_with_nanoseconds_and_the_zero_time_is_never():
    assert parse_time("2026-11-25T16:00:05.123456789Z") == datetime(
        2026, 11, 25, 16, 0, 5, 123456, tzinfo=UTC
    )
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("") is None


def test_a_rule_is_read_from_our_file_only_with_its_state_and_since_when():
    found = loaded_rules(GROUPS, rules_file="/srv/rules/observability-site.rules.yml")
    (rule,) = found[("service_alerts", "HighErrorRate")]
    assert rule.state == "firing" and rule.health == "ok"
    # The oldest alert in the rule's state (firing), not the pending one.
    assert rule.active_since == datetime(2026, 11, 25, 15, 54, 0, 500000, tzinfo=UTC)
    assert rule.last_evaluation.second == 5 and rule.for_seconds == 300
    (never,) = found[("service_alerts", "HighLatency")]
    assert never.last_evaluation is None and never.active_since is None
    assert len(loaded_rules(GROUPS)[("service_alerts", "HighErrorRate")]) == 2  # every file


def test_differences_name_what_is_missing_extra_or_different():
    ours = "/srv/rules/observability-site.rules.yml"
    same = [
        {"name": "service_alerts", "rules": [{"alert": "HighErrorRate"}, {"alert": "HighLatency"}]}
    ]
    assert differences(same, GROUPS, rules_file=ours) == []
    assert differences([], GROUPS, rules_file=ours) == ["group 'service_alerts' is still loaded"]
    other = [{"name": "meta", "rules": [{"alert": "X"}]}]
    assert "group 'meta' is not loaded" in differences(other, GROUPS, rules_file=ours)
    fewer = [{"name": "service_alerts", "rules": [{"alert": "HighErrorRate"}]}]
    assert "instead of" in differences(fewer, GROUPS, rules_file=ours)[0]
