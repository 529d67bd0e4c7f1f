"""The client's address with NUM_PROXIES trusted hops (common.client_address): the one rule
the throttles and the login lockout use."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from common.client_address import client_address


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no proxy: the header is the client's own words
        (1, "203.0.113.9", "203.0.113.9"),  # nginx appended the address it saw
        (1, "198.51.100.7, 203.0.113.9", "203.0.113.9"),  # a forged entry before it
        (2, "198.51.100.7, 203.0.113.9, 192.0.2.4", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.1"),  # fewer entries than hops: not through them all
        (1, "", "10.0.0.1"),
    ],
)
def test_the_client_is_the_entry_the_trusted_proxies_added(settings, proxies, forwarded, expected):
    settings.NUM_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected
