"""Validation of a profiling run's settings, shared by the admin's start form, the REST
API and the management command, so that bad input gets the same field errors everywhere."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings

from telemetry.models import ProfilingRun

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
)


def _regex_error(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"Not a valid regular expression: {exc}."
    return None


class ProfilingRunStartForm(forms.ModelForm):
    """What to profile, how often, with which clock, and when the run must end."""

    class Meta:
        model = ProfilingRun
        fields = START_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Empty numbers take the settings' defaults (shown as the initial values).
        defaults = {
            "sample_every": settings.PROFILING_DEFAULT_SAMPLE_EVERY,
            "max_duration_seconds": settings.PROFILING_DEFAULT_MAX_SECONDS,
            "max_captures": settings.PROFILING_DEFAULT_MAX_CAPTURES,
        }
        for name, value in defaults.items():
            self.fields[name].required = False
            self.fields[name].initial = value
        self.fields["target"].required = True
        self.fields["clock"].required = False

    def _bounded(self, name: str, low: int, high: int) -> int | None:
        value = self.cleaned_data.get(name)
        if value is None:
            return None
        if not low <= value <= high:
            raise forms.ValidationError(f"Must be between {low} and {high}.")
        return value

    def clean_sample_every(self) -> int | None:
        return self._bounded("sample_every", 1, 1_000_000)

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

    def clean_clock(self) -> str:
        return self.cleaned_data.get("clock") or ProfilingRun.Clock.WALL

    def clean(self) -> dict[str, Any]:
        super().clean()
        # Every process checks every active run on each request and reports on each: a few
        # at a time is what the hot path and the agent are sized for.
        limit = settings.PROFILING_MAX_ACTIVE_RUNS
        if ProfilingRun.objects.filter(status__in=ProfilingRun.ACTIVE).count() >= limit:
            raise forms.ValidationError(
                f"{limit} runs are already scheduled or running; stop one first."
            )
        return self.cleaned_data


def validated_start_fields(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(fields for telemetry.profiling.run_start, {}) or ({}, field errors)."""
    # JSON may carry objects or lists where the form expects one value; some form fields
    # would not survive them (a 500), so they are field errors here.
    nested = {
        name: ["Expected a single value."]
        for name in START_FIELDS
        if isinstance(data.get(name), dict | list)
    }
    if nested:
        return {}, nested
    # Numbers and booleans from JSON go to the form as the text a browser would send: some
    # form fields only parse text (a number for a date would be a 500, not an error).
    form_data = {name: _as_form_value(name, data.get(name)) for name in START_FIELDS}
    form = ProfilingRunStartForm(data=form_data)
    if not form.is_valid():
        return {}, {field: [str(e) for e in errors] for field, errors in form.errors.items()}
    return {name: form.cleaned_data.get(name) for name in START_FIELDS}, {}


def _as_form_value(name: str, value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if name == "memory" and isinstance(value, bool):
        return value
    return str(value).lower() if isinstance(value, bool) else str(value)
