"""A logging filter that keeps query strings out of Django's own request log records.

Django logs every 4xx/5xx response on `django.request` (and runserver every request on
`django.server`) with the request object in the record (`extra={"request": request}`). Any
handler that serialises a record's extras - the OTLP log exporter, the JSON lines on
stdout - then writes `<WSGIRequest: GET '/api/users?email=someone@example.com'>`: the query
string, which may carry personal data and tokens. The filter, set on those loggers in
settings.LOGGING, replaces the request with its method and path and cuts the query from the
record's arguments, before any handler sees the record.
"""

from __future__ import annotations

import logging
import re

# A path followed by its query: what is kept is the path ("/api/users?email=x" -> "/api/users").
_QUERY_AFTER_PATH = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")


def without_query(text: str) -> str:
    """`text` with the query string of every path in it removed."""
    return _QUERY_AFTER_PATH.sub(r"\1", text) if "?" in text else text


class RequestQueryFilter(logging.Filter):
    """Removes query strings from a record's request, message and arguments (never drops
    the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            method = getattr(request, "method", "") or ""
            path = getattr(request, "path", "") or ""
            record.request = f"{method} {path}".strip()
        if isinstance(record.msg, str):
            record.msg = without_query(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                without_query(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True
