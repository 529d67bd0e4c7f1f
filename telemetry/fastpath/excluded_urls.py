"""The excluded-URL check of every request (OTEL_PYTHON_DJANGO_EXCLUDED_URLS), as one
compiled-pattern search.

ExcludeList.url_disabled answers through `re.search(self._regex, url)`, which looks the
already compiled pattern up in re's cache on every call: about 750 ns against 130 ns for
the pattern's own search (measured: docs/overhead.md, round ten), twice per request (the
server-span and probes middleware each check). The pattern is a private attribute of
ExcludeList (telemetry.upstream.private_api); without it, the check is url_disabled itself.
"""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.util.http import ExcludeList


def _never(url: str) -> bool:
    return False


def url_check(excluded: ExcludeList | None) -> Callable[[str], object]:
    """What `excluded.url_disabled` answers, as a callable whose result is truthy for an
    excluded URL: the compiled pattern's search (a match object or None), `_never` for an
    empty list, url_disabled itself when the ExcludeList keeps its pattern under another
    name."""
    if excluded is None or not getattr(excluded, "_excluded_urls", True):
        return _never
    pattern = getattr(excluded, "_regex", None)
    search = getattr(pattern, "search", None)
    return search if callable(search) else excluded.url_disabled
