"""A running Prometheus, over its HTTP API."""

from __future__ import annotations

import httpx


def reload_prometheus(base_url: str, *, timeout: float = 10) -> None:
    """POST /-/reload (Prometheus runs with --web.enable-lifecycle); raise on failure."""
    response = httpx.post(f"{base_url.rstrip('/')}/-/reload", timeout=timeout)
    if response.status_code != 200:
        raise RuntimeError(
            f"Prometheus at {base_url} refused the reload ({response.status_code}): "
            f"{response.text.strip()[:300]}"
        )
