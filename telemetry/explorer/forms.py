"""The console's search forms: every filter of the Traces, Logs and Service overview pages,
parsed and checked here, so that bad input (a malformed trace id, an absurd time range, an
unknown service) becomes a readable message on the page and never a server error."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django import forms
from django.utils import timezone

# "250ms", "1.5s", "300us", "2m"; a bare number is milliseconds.
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m)?\s*$", re.IGNORECASE)
_DURATION_UNITS_US = {"us": 1, "µs": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000}
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
# The store keeps a day by default; a week covers any bound an operator is likely to set.
LAST_CHOICES = [
    ("", "all the store holds"),
    ("15m", "last 15 minutes"),
    ("1h", "last hour"),
    ("6h", "last 6 hours"),
    ("24h", "last 24 hours"),
    ("7d", "last 7 days"),
]
_LAST_SECONDS = {"15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800}
# Times the store can hold: anything outside is a typo (a year 20260, or 1900).
_EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
_MAX_RANGE = datetime.timedelta(days=366)
MAX_PAGE = 1000
LEVELS = [
    ("", "any level"),
    ("DEBUG", "DEBUG and above"),
    ("INFO", "INFO and above"),
    ("WARNING", "WARNING and above"),
    ("ERROR", "ERROR and above"),
    ("CRITICAL", "CRITICAL"),
]
# OpenTelemetry severity numbers of Python's levels (opentelemetry.sdk._logs std_to_otel).
LEVEL_SEVERITY = {"DEBUG": 5, "INFO": 9, "WARNING": 13, "ERROR": 17, "CRITICAL": 21}
WINDOW_CHOICES = [
    ("5m", "last 5 minutes"),
    ("15m", "last 15 minutes"),
    ("1h", "last hour"),
    ("6h", "last 6 hours"),
    ("24h", "last 24 hours"),
]
_WINDOW_SECONDS = {"5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400}


# The browser's date and time picker; the field also takes ISO 8601 (2026-12-01T09:30:00).
_MOMENT = forms.DateTimeInput(
    attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"
)


def parse_trace_id(raw: str) -> str:
    """A W3C trace id as the store keeps it (32 lowercase hex digits); dashes, spaces and
    case are forgiven. Raises ValueError with a readable message."""
    value = raw.strip().lower().replace("-", "").replace(" ", "")
    if value.startswith("0x"):
        value = value[2:]
    if not _TRACE_ID.match(value):
        raise ValueError(f"{raw.strip()[:64]!r} is not a trace id (32 hexadecimal digits).")
    if value == "0" * 32:
        raise ValueError("The all-zero trace id is invalid.")
    return value


def parse_duration_us(raw: str) -> int:
    """A duration such as 250ms, 1.5s, 300us or 2m (a bare number: milliseconds), in
    microseconds. Raises ValueError with a readable message."""
    match = _DURATION.match(raw)
    if not match:
        raise ValueError(f"{raw.strip()[:32]!r} is not a duration (e.g. 250ms, 1.5s, 300us).")
    number, unit = float(match.group(1)), (match.group(2) or "ms").lower()
    value = int(number * _DURATION_UNITS_US[unit])
    if value > 24 * 3600 * 1_000_000:
        raise ValueError("A minimum duration longer than a day matches nothing the store keeps.")
    return value


def _to_us(moment: datetime.datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


@dataclass(frozen=True)
class TimeRange:
    since_us: int | None
    until_us: int | None


class _TimeRangeForm(forms.Form):
    """A relative window ("last hour") or an absolute one (from, to)."""

    last = forms.ChoiceField(choices=LAST_CHOICES, required=False, label="time")
    since = forms.DateTimeField(required=False, label="from (UTC)", widget=_MOMENT)
    until = forms.DateTimeField(required=False, label="to (UTC)", widget=_MOMENT)

    def clean(self):
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        now = timezone.now()
        for name, moment in (("since", since), ("until", until)):
            if moment is not None and not (_EARLIEST <= moment <= now + datetime.timedelta(days=1)):
                self.add_error(name, f"{moment:%Y-%m-%d %H:%M} is outside what the store holds.")
        if since and until:
            if since > until:
                self.add_error("until", "The end of the time range is before its start.")
            elif until - since > _MAX_RANGE:
                self.add_error("until", "A time range longer than a year matches no bounded store.")
        return cleaned

    def time_range(self) -> TimeRange:
        cleaned = self.cleaned_data
        since, until = cleaned.get("since"), cleaned.get("until")
        last = cleaned.get("last")
        if last and not since:
            since = timezone.now() - datetime.timedelta(seconds=_LAST_SECONDS[last])
        return TimeRange(
            since_us=_to_us(since) if since else None, until_us=_to_us(until) if until else None
        )


class _TraceIdField(forms.CharField):
    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, max_length=80, label="trace id", **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return ""
        try:
            return parse_trace_id(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class TraceSearchForm(_TimeRangeForm):
    """The filters of the Traces page."""

    service = forms.ChoiceField(required=False, label="service")
    role = forms.ChoiceField(required=False, label="process role")
    name = forms.CharField(required=False, max_length=300, label="span or route name")
    # Exact route template of a server span (the links from alert events and the overview).
    route = forms.CharField(required=False, max_length=300, widget=forms.HiddenInput)
    status = forms.ChoiceField(
        required=False,
        label="status",
        choices=[("", "any status"), ("error", "errors only"), ("ok", "without errors")],
    )
    min_duration = forms.CharField(required=False, max_length=32, label="min duration")
    trace_id = _TraceIdField()
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    field_order = ["service", "role", "name", "status", "min_duration", "last", "since", "until",
                   "trace_id"]  # fmt: skip

    def __init__(self, data, *, services: list[str], roles: list[str]) -> None:
        super().__init__(data)
        service, role = self.fields["service"], self.fields["role"]
        assert isinstance(service, forms.ChoiceField) and isinstance(role, forms.ChoiceField)
        service.choices = [("", "any service"), *((s, s) for s in services)]
        role.choices = [("", "any role"), *((r, r) for r in roles)]

    def clean_min_duration(self) -> int | None:
        raw = self.cleaned_data.get("min_duration") or ""
        if not raw.strip():
            return None
        try:
            return parse_duration_us(raw)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class LogSearchForm(_TimeRangeForm):
    """The filters of the Logs page."""

    level = forms.ChoiceField(required=False, choices=LEVELS)
    logger = forms.CharField(
        required=False, max_length=200, help_text="A logger and its children, e.g. processing."
    )
    text = forms.CharField(required=False, max_length=200, label="message contains")
    trace_id = _TraceIdField()
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    field_order = ["level", "logger", "text", "trace_id", "last", "since", "until"]

    def min_severity(self) -> int | None:
        level = self.cleaned_data.get("level")
        return LEVEL_SEVERITY[level] if level else None


class OverviewForm(forms.Form):
    """The window of the Service overview."""

    window = forms.ChoiceField(choices=WINDOW_CHOICES, required=False)

    def window_seconds(self) -> int:
        return _WINDOW_SECONDS[self.cleaned_data.get("window") or "1h"]
