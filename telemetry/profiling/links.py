"""From a span to its profile: the attributes profiling puts on spans, and where they lead.

- `profiling.run_id` (an int): a profiling run captured the span's request or task
  (telemetry.profiling.yappi_capture); it leads to the run's page, which lists the trace.
- `profiling.profile_id` ("role:host:pid@window start"): the continuous profiler sampled
  the span (telemetry.profiling.continuous.spans); it leads to that process's window,
  narrowed to the span's trace when its trace id is given.

The console's trace page calls profile_url_for_span(); an external trace viewer links the
same attributes with a template (jaeger_link_patterns(), for Jaeger UI's config file).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from telemetry.profiling.continuous.spans import PROFILE_ID_ATTRIBUTE, parse_profile_id

RUN_ID_ATTRIBUTE = "profiling.run_id"


def profile_url_for_span(
    attributes: Mapping[str, Any], *, trace_id: str | None = None
) -> str | None:
    """The console path of the profile a span's attributes name, or None if they name none.

    A capture by a run wins over the continuous profile (it is the complete picture of that
    request). `trace_id` (32 hex digits) narrows a continuous window to the span's trace.
    """
    run_id = attributes.get(RUN_ID_ATTRIBUTE)
    if isinstance(run_id, int) and not isinstance(run_id, bool) and run_id > 0:
        return reverse("admin:telemetry_profilingrun_change", args=[run_id])
    profile_id = attributes.get(PROFILE_ID_ATTRIBUTE)
    if isinstance(profile_id, str) and parse_profile_id(profile_id) is not None:
        query = {"profile_id": profile_id}
        if trace_id:
            query["trace_id"] = trace_id
        url = reverse("admin:telemetry_continuousprofilewindow_for_span")
        return f"{url}?{urlencode(query)}"
    return None


def jaeger_link_patterns(console_base_url: str) -> list[dict[str, str]]:
    """Jaeger UI `linkPatterns` (its config file) turning both attributes into links to
    this console at `console_base_url` (e.g. http://127.0.0.1:8000)."""
    base = console_base_url.rstrip("/")
    continuous = reverse("admin:telemetry_continuousprofilewindow_for_span")
    run = reverse("admin:telemetry_profilingrun_change", args=[1]).replace("/1/", "/#{%s}/")
    return [
        {
            "type": "tags",
            "key": PROFILE_ID_ATTRIBUTE,
            "url": f"{base}{continuous}?profile_id=#{{{PROFILE_ID_ATTRIBUTE}}}"
            "&trace_id=#{trace.traceID}",
            "text": "The continuous profile of this span's process and minute",
        },
        {
            "type": "tags",
            "key": RUN_ID_ATTRIBUTE,
            "url": base + run % RUN_ID_ATTRIBUTE,
            "text": "The profiling run that captured this span",
        },
    ]
