"""A run's settings are validated alike in the admin, the REST API and `manage.py
start_profiling`: one message per limit (the same words in all three), the same defaults
for what is left out, strict booleans and choices in JSON, and a field error for settings
the run would ignore (a task pattern on a requests-only run, a start time in the past)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from telemetry.models import ProfilingRun

pytestmark = pytest.mark.django_db

RUNS = "/api/telemetry/profiling-runs"
ADD_URL = "/admin/telemetry/profilingrun/add/"
# field -> the command's option
OPTIONS = {
    "target": "--target",
    "route_pattern": "--route",
    "task_pattern": "--task",
    "sample_every": "--every",
    "max_duration_seconds": "--duration",
    "max_captures": "--max-captures",
    "starts_at": "--starts-at",
}
PAST = "2020-01-01T00:00:00+00:00"
CASES = [
    # (fields, the field in error, its message)
    ({"sample_every": "-5"}, "sample_every", "Must be between 1 and 1000000."),
    ({"sample_every": "0"}, "sample_every", "Must be between 1 and 1000000."),
    ({"max_duration_seconds": "-5"}, "max_duration_seconds", "Must be between 1 and 3600."),
    ({"max_duration_seconds": "0"}, "max_duration_seconds", "Must be between 1 and 3600."),
    ({"max_duration_seconds": "3601"}, "max_duration_seconds", "Must be between 1 and 3600."),
    ({"max_captures": "-3"}, "max_captures", "Must be between 1 and 10000."),
    ({"max_captures": "10001"}, "max_captures", "Must be between 1 and 10000."),
    ({"sample_every": "many"}, "sample_every", "Enter a whole number."),
    ({"target": "everything"}, "target", "Select a valid choice."),
    (
        {"target": "requests", "task_pattern": "^processing"},
        "task_pattern",
        "A task pattern needs a run over tasks; this run's target is requests.",
    ),
    (
        {"target": "tasks", "route_pattern": "^/api/"},
        "route_pattern",
        "A route pattern needs a run over requests; this run's target is tasks.",
    ),
    ({"starts_at": PAST}, "starts_at", "This time is in the past"),
]


def admin_errors(staff_session, fields: dict) -> dict:
    data = {"target": "requests", "clock": "wall", "import_frames": "group", **fields}
    if "starts_at" in data:
        date, time = data.pop("starts_at")[:19].split("T")
        data.update(starts_at_0=date, starts_at_1=time)
    response = staff_session.post(ADD_URL, data)
    assert response.status_code == 200, "the admin accepted it"
    return response.context["adminform"].form.errors


def api_errors(staff_client, fields: dict) -> dict:
    response = staff_client.post(RUNS, fields, format="json")
    assert response.status_code == 400, response.json()
    return response.json()["error"]["fields"]


def command_error(fields: dict) -> str:
    args = [arg for name, value in fields.items() for arg in (OPTIONS[name], value)]
    with pytest.raises(CommandError) as raised:
        call_command("start_profiling", *args, stdout=StringIO())
    return str(raised.value)


@pytest.mark.parametrize(("fields", "field", "message"), CASES)
def test_one_message_per_limit_in_the_admin_the_api_and_the_command(
    staff_session, staff_client, fields, field, message
):
    admin = " ".join(admin_errors(staff_session, fields)[field])
    api = " ".join(api_errors(staff_client, fields)[field])
    command = command_error(fields)
    assert message in admin
    assert admin == api, (admin, api)
    assert f"{field}: {admin}" in command
    assert not ProfilingRun.objects.exists()


def test_what_is_left_out_takes_the_same_defaults_everywhere(staff_session, staff_client):
    # A browser sends every field of the form, empty where the operator left it empty.
    empty_form = {
        "target": "requests", "clock": "wall", "import_frames": "group", "name": "",
        "route_pattern": "", "task_pattern": "", "sample_every": "",
        "max_duration_seconds": "", "max_captures": "", "starts_at_0": "", "starts_at_1": "",
    }  # fmt: skip
    assert staff_session.post(ADD_URL, empty_form).status_code == 302
    assert staff_client.post(RUNS, {}, format="json").status_code == 201
    call_command("start_profiling", stdout=StringIO())
    compared = ("target", "clock", "memory", "import_frames", "sample_every",
                "max_duration_seconds", "max_captures", "route_pattern", "task_pattern",
                "status")  # fmt: skip
    admin, api, command = (
        tuple(getattr(run, name) for name in compared)
        for run in ProfilingRun.objects.order_by("pk")
    )
    assert admin == api == command
    assert admin[:4] == ("requests", "wall", False, "group")


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"memory": "maybe"}, "memory", "Must be true or false."),
        ({"memory": "true"}, "memory", "Must be true or false."),
        ({"memory": 1}, "memory", "Must be true or false."),
        ({"target": 7}, "target", "Must be a string."),
        ({"clock": True}, "clock", "Must be a string."),
        ({"import_frames": "sometimes"}, "import_frames", "Select a valid choice."),
        ({"sample_every": True}, "sample_every", "Enter a whole number."),
        ({"sampel_every": 5}, "sampel_every", "Unknown field."),
    ],
)
def test_the_api_is_strict_about_booleans_and_choices(staff_client, payload, field, message):
    assert message in " ".join(api_errors(staff_client, payload)[field])
    assert not ProfilingRun.objects.exists()


def test_json_booleans_and_a_start_time_within_a_minute_are_taken(staff_client):
    response = staff_client.post(RUNS, {"memory": True, "clock": "cpu"}, format="json")
    assert response.status_code == 201, response.json()
    run = ProfilingRun.objects.get()
    assert (run.memory, run.clock, run.status) == (True, "cpu", "running")
    just_now = (timezone.now() - timedelta(seconds=20)).isoformat()
    response = staff_client.post(RUNS, {"starts_at": just_now}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "running"
