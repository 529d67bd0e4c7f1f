"""The server span's request attributes, the client's part cached: for every kind of WSGI
environ they are what the instrumentation's collect_request_attributes gives, and a
cached part never leaks from one request into the next."""

from __future__ import annotations

import pytest
from opentelemetry.instrumentation._semconv import _StabilityMode
from opentelemetry.instrumentation.wsgi import collect_request_attributes

from telemetry.fastpath.server_span import _client_attributes, _request_attributes

GUNICORN = {
    "REQUEST_METHOD": "GET",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "wsgi.url_scheme": "http",
    "HTTP_HOST": "127.0.0.1:8000",
    "HTTP_USER_AGENT": "curl/8.5",
    "RAW_URI": "/api/users?page=2",
    "PATH_INFO": "/api/users",
    "QUERY_STRING": "page=2",
    "REMOTE_ADDR": "10.0.0.7",
    "REMOTE_PORT": "51234",
}
ENVIRONS = {
    "gunicorn": GUNICORN,
    "another client and path": {
        **GUNICORN,
        "RAW_URI": "/",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "REMOTE_ADDR": "10.0.0.8",
        "REMOTE_PORT": "40000",
    },
    "REQUEST_URI, no RAW_URI": {
        **{k: v for k, v in GUNICORN.items() if k != "RAW_URI"},
        "REQUEST_URI": "/x?y=1",
    },
    "no target (the test client)": {
        k: v for k, v in GUNICORN.items() if k not in ("RAW_URI", "QUERY_STRING")
    },
    "a remote host name": {**GUNICORN, "REMOTE_HOST": "client.example"},
    "a remote host equal to the address": {**GUNICORN, "REMOTE_HOST": "10.0.0.7"},
    "no user agent, no host header": {
        k: v for k, v in GUNICORN.items() if k not in ("HTTP_USER_AGENT", "HTTP_HOST")
    },
    "a bot": {**GUNICORN, "HTTP_USER_AGENT": "Mozilla/5.0 (compatible; Googlebot/2.1)"},
    "an unknown method": {**GUNICORN, "REQUEST_METHOD": "BREW"},
    "https, HTTP/2": {**GUNICORN, "wsgi.url_scheme": "https", "SERVER_PROTOCOL": "HTTP/2"},
    "IPv6 host": {**GUNICORN, "HTTP_HOST": "[::1]:8443", "REMOTE_ADDR": "::1"},
}


@pytest.mark.parametrize("name", list(ENVIRONS))
def test_the_attributes_are_the_instrumentations(name):
    environ = ENVIRONS[name]

    assert _request_attributes(environ) == collect_request_attributes(environ, _StabilityMode.HTTP)


def test_a_cached_part_is_copied_not_shared():
    _client_attributes.cache_clear()
    first = _request_attributes(GUNICORN)
    first["url.path"] = "/changed"
    first["user_agent.original"] = "changed"

    again = _request_attributes(GUNICORN)

    assert again == collect_request_attributes(GUNICORN, _StabilityMode.HTTP)
    assert _client_attributes.cache_info().hits == 1
