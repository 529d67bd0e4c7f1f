"""The one answer to "which address is this client?", for every throttle and lockout.

X-Forwarded-For is a list anyone can write to: a client sends whatever it likes, and each
proxy it passes appends the address it saw. Only the entries appended by proxies we run can
be believed, so the client is the NUM_PROXIES-th entry from the right: with no proxy
(NUM_PROXIES=0, the default) the socket's peer (REMOTE_ADDR), with nginx in front (compose,
Kubernetes: NUM_PROXIES=1) the last entry, the one nginx added. DRF's own rule trusts the
whole header when its NUM_PROXIES is unset, and django-axes trusts the left-most entry by
default: both would let a client pick its own address (issue 15), so both call this.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings


def client_address(request: Any) -> str:
    """The client's address, as far as the configured trusted proxies vouch for it.

    `request` is a Django HttpRequest or a DRF Request (both have META).
    """
    meta = request.META
    remote = meta.get("REMOTE_ADDR", "") or ""
    proxies = getattr(settings, "NUM_PROXIES", 0)
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        # Fewer entries than trusted hops: the request did not come through all of them
        # (someone reached the server directly); the peer is the only address we know.
        return remote
    return forwarded[-proxies][:64]
