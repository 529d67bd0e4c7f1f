"""Validation of a profiling run's settings, shared by the admin's start form, the REST
API and the management command, so that bad input gets the same field errors everywhere:
one message per limit ("Must be between 1 and 3600."), the same defaults for what is left
out, and no setting accepted that the run would ignore.

Decisions (docs/profiling.md):
- a task pattern on a run that profiles no tasks (or a route pattern on one that profiles
  no requests) is a field error, not a warning: the run could not honour it, and an
  operator who believes it did reads the results wrong. Clearing the field is one step;
- a start time more than START_GRACE_SECONDS in the past is a field error too: a run
  cannot profile the past, and such a time is usually a time-zone slip. Within the grace
  (the admin's "Now" shortcut, a slow form) the run starts now.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.db import models
from django.utils import timezone

from common.safe_regex import UnsafePattern, check_pattern
from telemetry.models import ImportFrames, ProfilingRun

START_FIELDS = (
    "name",
    "target",
    "route_pattern",
    "task_pattern",
    "sample_every",
    "clock",
    "memory",
    "max_duration_seconds",
    "max_captures",
    "starts_at",
    "import_frames",
)
SAMPLE_EVERY_LIMIT = 1_000_000
START_GRACE_SECONDS = 60
_REQUEST_TARGETS = (ProfilingRun.Target.REQUESTS, ProfilingRun.Target.REQUESTS_AND_TASKS)
_TASK_TARGETS = (ProfilingRun.Target.TASKS, ProfilingRun.Target.REQUESTS_AND_TASKS)
# What a field left out means (the model's defaults, shown as the admin form's initial values).
CHOICE_DEFAULTS = {
    "target": ProfilingRun.Target.REQUESTS,
    "clock": ProfilingRun.Clock.WALL,
    "import_frames": ImportFrames.GROUP,
}
BOOLEAN_FIELDS = ("memory",)
CHOICE_FIELDS = tuple(CHOICE_DEFAULTS)
TEXT_FIELDS = ("name", "route_pattern", "task_pattern")


def limit_message(low: int, high: int) -> str:
    """The one message for a number outside its limits, in the admin, API and command."""
    return f"Must be between {low} and {high}."


def _regex_error(pattern: str) -> str | None:
    # Bounded cost, as the sampling rules' patterns (common.safe_regex): a staff pattern is
    # searched in requests and tasks, and (a+)+$ would stall a worker for seconds on each.
    try:
        check_pattern(pattern)
    except UnsafePattern as exc:
        message = str(exc)
        return message[:1].upper() + message[1:].rstrip(".") + "."
    return None


def _number_field(model_field_name: str) -> forms.IntegerField:
    # Declared here rather than derived from the model: a PositiveIntegerField's form field
    # brings its own "greater than or equal to 0" message, a second wording of the limit.
    model_field = ProfilingRun._meta.get_field(model_field_name)
    assert isinstance(model_field, models.Field)
    return forms.IntegerField(
        required=False,
        label=str(model_field.verbose_name).capitalize(),
        help_text=model_field.help_text,
    )


class ProfilingRunStartForm(forms.ModelForm):
    """What to profile, how often, with which clock, and when the run must end."""

    sample_every = _number_field("sample_every")
    max_duration_seconds = _number_field("max_duration_seconds")
    max_captures = _number_field("max_captures")

    class Meta:
        model = ProfilingRun
        fields = START_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Empty numbers take the settings' defaults (shown as the initial values).
        defaults: dict[str, Any] = {
            "sample_every": settings.PROFILING_DEFAULT_SAMPLE_EVERY,
            "max_duration_seconds": settings.PROFILING_DEFAULT_MAX_SECONDS,
            "max_captures": settings.PROFILING_DEFAULT_MAX_CAPTURES,
        }
        for name, value in defaults.items():
            self.fields[name].initial = value
        for name, value in CHOICE_DEFAULTS.items():
            self.fields[name].required = False
            self.fields[name].initial = value

    def _bounded(self, name: str, low: int, high: int) -> int | None:
        value = self.cleaned_data.get(name)
        if value is None:
            return None
        if not low <= value <= high:
            raise forms.ValidationError(limit_message(low, high))
        return value

    def clean_sample_every(self) -> int | None:
        return self._bounded("sample_every", 1, SAMPLE_EVERY_LIMIT)

    def clean_max_duration_seconds(self) -> int | None:
        return self._bounded("max_duration_seconds", 1, settings.PROFILING_MAX_SECONDS_LIMIT)

    def clean_max_captures(self) -> int | None:
        return self._bounded("max_captures", 1, settings.PROFILING_MAX_CAPTURES_LIMIT)

    def clean_route_pattern(self) -> str:
        pattern = self.cleaned_data.get("route_pattern") or ""
        if error := _regex_error(pattern):
            raise forms.ValidationError(error)
        return pattern

    def clean_task_pattern(self) -> str:
        pattern = self.cleaned_data.get("task_pattern") or ""
        if error := _regex_error(pattern):
            raise forms.ValidationError(error)
        return pattern

    def clean_target(self) -> str:
        return self.cleaned_data.get("target") or CHOICE_DEFAULTS["target"]

    def clean_clock(self) -> str:
        return self.cleaned_data.get("clock") or CHOICE_DEFAULTS["clock"]

    def clean_import_frames(self) -> str:
        return self.cleaned_data.get("import_frames") or CHOICE_DEFAULTS["import_frames"]

    def clean_starts_at(self):
        starts_at = self.cleaned_data.get("starts_at")
        if starts_at is None:
            return None
        now = timezone.now()
        if starts_at < now - timedelta(seconds=START_GRACE_SECONDS):
            raise forms.ValidationError(
                "This time is in the past: a run cannot profile the past. Leave it empty to "
                "start now, or give a later time."
            )
        return starts_at if starts_at > now else None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        target = cleaned.get("target")
        if target and cleaned.get("task_pattern") and target not in _TASK_TARGETS:
            self.add_error(
                "task_pattern",
                f"A task pattern needs a run over tasks; this run's target is {target}. "
                "Clear it, or choose requests_and_tasks.",
            )
        if target and cleaned.get("route_pattern") and target not in _REQUEST_TARGETS:
            self.add_error(
                "route_pattern",
                f"A route pattern needs a run over requests; this run's target is {target}. "
                "Clear it, or choose requests_and_tasks.",
            )
        # Every process checks every active run on each request and reports on each: a few
        # at a time is what the hot path and the agent are sized for.
        limit = settings.PROFILING_MAX_ACTIVE_RUNS
        if ProfilingRun.objects.filter(status__in=ProfilingRun.ACTIVE).count() >= limit:
            raise forms.ValidationError(
                f"{limit} runs are already scheduled or running; stop one first."
            )
        return self.cleaned_data


def validated_start_fields(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(fields for telemetry.profiling.runs.run_start, {}) or ({}, field errors), from JSON
    (the API) or from the command's options: what is left out (or null) takes its default,
    booleans must be true or false, choices and texts must be strings."""
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - set(START_FIELDS))
    for name in unknown:
        errors[name] = ["Unknown field."]
    for name in START_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, dict | list):
            errors[name] = ["Expected a single value."]
        elif name in BOOLEAN_FIELDS and not isinstance(value, bool):
            errors[name] = ["Must be true or false."]
        elif name in CHOICE_FIELDS + TEXT_FIELDS and not isinstance(value, str):
            errors[name] = ["Must be a string."]
    if errors:
        return {}, errors
    # Numbers go to the form as the text a browser would send: some form fields only parse
    # text (a number for a date would be a 500, not an error).
    form_data = {
        name: _as_form_value(name, data.get(name)) for name in START_FIELDS if name in data
    }
    form = ProfilingRunStartForm(data=form_data)
    if not form.is_valid():
        return {}, {field: [str(e) for e in errors] for field, errors in form.errors.items()}
    return {name: form.cleaned_data.get(name) for name in START_FIELDS}, {}


def _as_form_value(name: str, value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if name in BOOLEAN_FIELDS:
        return value  # a bool, checked above
    return str(value).lower() if isinstance(value, bool) else str(value)
