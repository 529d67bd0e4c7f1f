"""The sampling policy admin: saving announces the change (every process reloads), shows
the policy in force and who changed it, keeps one policy, and turns bad input into field
errors, never a 500. With the store down, processes keep their last policy and say so once."""

from __future__ import annotations

import logging

import pytest
from django.contrib.admin.models import LogEntry

from telemetry.control import channels as control
from telemetry.control.version_store import FileVersionStore
from telemetry.models import SamplingPolicy
from telemetry.sampling.policy import ENV_POLICY, current_policy, policy_channel
from tests.factories import SamplingPolicyFactory

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/telemetry/samplingpolicy/add/"


@pytest.fixture
def version_store(tmp_path):
    store = FileVersionStore(tmp_path / "control")
    control.reset_for_tests(store)
    yield store
    control.reset_for_tests(None)


def policy_form(*rules: dict, **fields) -> dict:
    data = {
        "default_ratio": "0.25",
        "force_header_name": "X-Force-Trace",
        "force_header_value": "",
        "export_traces": "on",
        "export_metrics": "on",
        "export_logs": "on",
        "rules-TOTAL_FORMS": str(len(rules)),
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i, rule in enumerate(rules):
        row = {"position": str(i), "kind": "http", "enabled": "on", "note": "", **rule}
        data.update({f"rules-{i}-{key}": value for key, value in row.items()})
    return data


def test_it_saves_the_policy_announces_it_and_records_who(
    staff_session, staff, sampling_policy, version_store, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_session.post(
            ADD_URL,
            policy_form(
                {"pattern": r"^GET /api/users/\{user_id\}$", "ratio": "0.1"},
                {"kind": "task", "pattern": "process_job", "ratio": "1"},
            ),
        )

    assert response.status_code == 302, response.content[:2000]
    policy = SamplingPolicy.objects.get()
    assert policy.default_ratio == 0.25 and policy.updated_by == staff
    assert [r.pattern for r in policy.rules.order_by("position")] == [
        r"^GET /api/users/\{user_id\}$",
        "process_job",
    ]
    assert version_store.read("sampling") is not None  # every process sees the marker move
    in_force = current_policy()  # and this process reloaded at once
    assert not in_force.from_env and in_force.default.ratio == 0.25
    assert in_force.for_server_span("GET api/users/<int:user_id>").ratio == 0.1
    assert in_force.for_task_span("run/processing.process_job").ratio == 1.0
    assert LogEntry.objects.filter(user=staff, object_id=str(policy.pk)).exists()

    page = staff_session.get(f"/admin/telemetry/samplingpolicy/{policy.pk}/change/")
    assert "default 0.25" in page.content.decode()  # the policy in force, on the page
    history = staff_session.get(f"/admin/telemetry/samplingpolicy/{policy.pk}/history/")
    assert staff.email in history.content.decode()
    assert staff_session.get(ADD_URL).status_code == 403  # one policy


def test_deleting_the_policy_returns_to_the_environments_sampler(
    staff_session, sampling_policy, version_store, django_capture_on_commit_callbacks
):
    policy = SamplingPolicyFactory(default_ratio=0.5)
    policy_channel.reload()
    assert not current_policy().from_env
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_session.post(
            f"/admin/telemetry/samplingpolicy/{policy.pk}/delete/", {"post": "yes"}
        )
    assert response.status_code == 302
    assert current_policy() is ENV_POLICY


@pytest.mark.parametrize(
    ("fields", "rule", "message"),
    [
        ({"default_ratio": "1.5"}, None, "less than or equal to 1"),
        ({"default_ratio": "-0.1"}, None, "greater than or equal to 0"),
        ({"default_ratio": "nan"}, None, "Enter a number"),
        ({"default_ratio": "lots"}, None, "Enter a number"),
        ({"force_header_name": "X Bad:Header"}, None, "letters, digits and dashes"),
        ({}, {"pattern": "(unclosed", "ratio": "0.5"}, "not a valid regular expression"),
        ({}, {"pattern": "^GET ", "ratio": "2"}, "less than or equal to 1"),
        ({}, {"pattern": "^GET ", "ratio": "0.5", "kind": "sql"}, "valid choice"),
    ],
)
def test_it_rejects_bad_input_with_field_errors(
    staff_session, sampling_policy, fields, rule, message
):
    response = staff_session.post(ADD_URL, policy_form(*([rule] if rule else []), **fields))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not SamplingPolicy.objects.exists()


def test_an_unreachable_store_keeps_the_last_policy_and_logs_once(
    sampling_policy, version_store, caplog, monkeypatch
):
    # A poll ends by closing its connections; here that would be the test's own.
    monkeypatch.setattr(control.connections, "close_all", lambda: None)
    SamplingPolicyFactory(default_ratio=0.3)
    control.poll_once()
    assert current_policy().default.ratio == 0.3

    class BrokenStore:
        def read(self, channel):
            raise ConnectionError("store is down")

        def bump(self, channel):
            raise ConnectionError("store is down")

    control.reset_for_tests(BrokenStore())
    SamplingPolicy.objects.update(default_ratio=0.9)
    try:
        with caplog.at_level(logging.WARNING, logger="telemetry.control.channels"):
            for _ in range(3):
                control.poll_once()
    finally:
        control._failing.clear()
    assert current_policy().default.ratio == 0.3
    warnings = [r for r in caplog.records if "cannot refresh sampling" in r.getMessage()]
    assert len(warnings) == 1
