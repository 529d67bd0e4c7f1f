"""telemetry.fastpath.excluded_urls: the pattern's own search answers what
ExcludeList.url_disabled answers, for every kind of list."""

from __future__ import annotations

import pytest
from opentelemetry.util.http import ExcludeList, parse_excluded_urls

from telemetry.fastpath.excluded_urls import url_check

URLS = [
    "http://127.0.0.1:8000/",
    "http://127.0.0.1:8000/health",
    "http://127.0.0.1:8000/api/health/deep",
    "http://127.0.0.1:8000/ready?x=1",
    "/metrics",
    "/api/users",
    "",
]


@pytest.mark.parametrize(
    "value", ["", "health,ready,metrics", "/health$, ^/api", "^http://127\\.0\\.0\\.1:8000/$"]
)
def test_it_answers_what_url_disabled_answers(value):
    excluded = parse_excluded_urls(value)
    check = url_check(excluded)

    assert [bool(check(url)) for url in URLS] == [excluded.url_disabled(url) for url in URLS]


def test_without_the_private_pattern_it_is_url_disabled_itself():
    class Moved(ExcludeList):
        def __init__(self, urls):
            super().__init__(urls)
            self._pattern = self.__dict__.pop("_regex")

        def url_disabled(self, url):
            return bool(self._pattern.search(url))

    excluded = Moved(["health"])

    assert url_check(excluded) == excluded.url_disabled
    assert url_check(None)("http://127.0.0.1:8000/health") is False
