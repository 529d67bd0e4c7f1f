"""A running Prometheus, over its HTTP API: reload, the rules it has loaded, queries.

Every call has a timeout (settings.PROMETHEUS_TIMEOUT by default) and raises one of the
errors below instead of httpx's, so callers tell "unreachable" from "it said no".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from django.conf import settings


class PrometheusError(Exception):
    """Prometheus could not do what was asked; str() says why, for an operator."""


class PrometheusUnreachable(PrometheusError):
    """No answer: connection refused, timed out, not HTTP."""


class PrometheusRefused(PrometheusError):
    """Prometheus answered, and said no (a rule file it cannot load, a bad query...)."""


def _timeout(timeout: float | None) -> float:
    return settings.PROMETHEUS_TIMEOUT if timeout is None else timeout


def _request(
    method: str, base_url: str, path: str, *, timeout: float | None, **kwargs: Any
) -> httpx.Response:
    try:
        return httpx.request(
            method, f"{base_url.rstrip('/')}{path}", timeout=_timeout(timeout), **kwargs
        )
    except httpx.TimeoutException as exc:
        raise PrometheusUnreachable(
            f"Prometheus at {base_url} did not answer within {_timeout(timeout):g}s "
            f"({type(exc).__name__})"
        ) from exc
    except httpx.HTTPError as exc:
        raise PrometheusUnreachable(f"Prometheus at {base_url} cannot be reached: {exc}") from exc


def reload_prometheus(base_url: str, *, timeout: float | None = None) -> None:
    """POST /-/reload: Prometheus reads its configuration and rule files again.

    Prometheus answers only once the reload is done, 500 with its error when a file does not
    load (it then keeps the rules it had), 403 without --web.enable-lifecycle."""
    response = _request("POST", base_url, "/-/reload", timeout=timeout)
    if response.status_code == 403:
        raise PrometheusRefused(
            f"Prometheus at {base_url} does not allow reloads ({response.text.strip()[:200]}): "
            "start it with --web.enable-lifecycle"
        )
    if response.status_code != 200:
        raise PrometheusRefused(
            f"Prometheus at {base_url} refused the reload ({response.status_code}): "
            f"{response.text.strip()[:2000]}"
        )


def _api(base_url: str, path: str, params: dict[str, Any], timeout: float | None) -> Any:
    response = _request("GET", base_url, f"/api/v1/{path}", params=params, timeout=timeout)
    try:
        body = response.json()
    except ValueError as exc:
        raise PrometheusUnreachable(
            f"{base_url} answered {response.status_code} without JSON: is it Prometheus?"
        ) from exc
    if body.get("status") != "success":
        raise PrometheusRefused(
            f"Prometheus refused /api/v1/{path}: {body.get('errorType', '')}: "
            f"{body.get('error', response.text[:300])}"
        )
    return body["data"]


def rule_groups(base_url: str, *, timeout: float | None = None) -> list[dict[str, Any]]:
    """GET /api/v1/rules: every rule group loaded, with each rule's health and alerts."""
    return _api(base_url, "rules", {}, timeout)["groups"]


def instant_query(
    base_url: str, expr: str, *, at: datetime | None = None, timeout: float | None = None
) -> list[dict[str, Any]]:
    """GET /api/v1/query: the result vector of EXPR evaluated at AT (now by default)."""
    params: dict[str, Any] = {"query": expr}
    if at is not None:
        params["time"] = f"{at.timestamp():.3f}"
    data = _api(base_url, "query", params, timeout)
    if data["resultType"] == "scalar":
        return [{"metric": {}, "value": data["result"]}]
    return data["result"]


def range_query(
    base_url: str,
    expr: str,
    *,
    start: datetime,
    end: datetime,
    step_seconds: float,
    timeout: float | None = None,
) -> list[dict[str, Any]]:
    """GET /api/v1/query_range: the result matrix of EXPR from START to END."""
    params = {
        "query": expr,
        "start": f"{start.timestamp():.3f}",
        "end": f"{end.timestamp():.3f}",
        "step": f"{max(step_seconds, 1):.0f}",
    }
    return _api(base_url, "query_range", params, timeout)["result"]


def query_exemplars(
    base_url: str, expr: str, *, start: datetime, end: datetime, timeout: float | None = None
) -> list[dict[str, Any]]:
    """GET /api/v1/query_exemplars: the exemplars (trace ids) of the series EXPR selects.

    Empty where Prometheus keeps no exemplars (without --enable-feature=exemplar-storage)."""
    params = {"query": expr, "start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}"}
    return _api(base_url, "query_exemplars", params, timeout) or []


def sample_value(sample: dict[str, Any]) -> float:
    """The number of an instant-vector sample ("NaN", "+Inf" included)."""
    return float(sample["value"][1])
