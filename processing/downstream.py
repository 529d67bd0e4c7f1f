"""The client for the downstream enrichment service, called over real HTTP.

By default the downstream is this same service's /api/downstream/enrich endpoint (a stand-in
for an external API), so every call crosses a real socket.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import httpx
from django.conf import settings

from processing.errors import DownstreamRejected, DownstreamUnavailable

logger = logging.getLogger(__name__)


@functools.cache
def _client() -> httpx.Client:
    # One pooled client per process, created on first use (after any fork).
    return httpx.Client(headers={"User-Agent": f"{settings.SERVICE_NAME}/downstream-client"})


def enrich(analysis: dict[str, Any]) -> dict[str, Any]:
    """POST the analysis to the downstream service and return its JSON answer."""
    url = settings.PROCESSING_DOWNSTREAM_URL
    try:
        response = _client().post(
            url, json=analysis, timeout=settings.PROCESSING_DOWNSTREAM_TIMEOUT
        )
    except httpx.HTTPError as exc:
        raise DownstreamUnavailable(f"downstream {url} unreachable: {exc!r}") from exc
    if response.status_code >= 500:
        raise DownstreamUnavailable(f"downstream {url} answered {response.status_code}")
    if response.status_code >= 400:
        raise DownstreamRejected(f"downstream {url} rejected the request: {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise DownstreamUnavailable(f"downstream {url} answered with invalid JSON") from exc
