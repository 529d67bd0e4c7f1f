"""Route templates: how this service names a request's route in span names, `http.route`
and metric attributes (the OpenTelemetry form, `/api/users/{user_id}`)."""

from __future__ import annotations

import functools
import re

_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")  # <int:user_id> -> user_id
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")  # (?P<user_id>[0-9]+) -> user_id


@functools.lru_cache(maxsize=512)
def route_template(route: str) -> str:
    """Turn a Django route into the OpenTelemetry http.route form.

    'api/users/<int:user_id>' becomes '/api/users/{user_id}'; a re_path pattern
    '^x/(?P<pk>[0-9]+)/$' becomes '/x/{pk}/'. Cached: called for every request, and the
    routes are the URL patterns, a small fixed set (not the paths requested).
    """
    if route.startswith("^") or route.endswith("$") or "(?P<" in route:
        route = _REGEX_GROUP.sub(r"<\1>", route.lstrip("^").rstrip("$"))
    return "/" + _CONVERTER.sub(r"{\1}", route.lstrip("/"))
