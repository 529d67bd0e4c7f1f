"""DRF's throttles, counting per client by common.client_address (NUM_PROXIES trusted hops)
instead of DRF's own reading of X-Forwarded-For."""

from __future__ import annotations

from rest_framework import throttling

from common.client_address import client_address


class _ByClientAddress:
    def get_ident(self, request) -> str:
        return client_address(request)


class AnonRateThrottle(_ByClientAddress, throttling.AnonRateThrottle):
    """Anonymous requests, per client address (scope "anon")."""


class UserRateThrottle(_ByClientAddress, throttling.UserRateThrottle):
    """Per user; anonymous requests per client address (scope "user")."""


class ScopedRateThrottle(_ByClientAddress, throttling.ScopedRateThrottle):
    """Per view scope (throttle_scope), per user or client address."""
