"""deploy/nginx/nginx.conf.template: the buffering proxy in front of gunicorn (issue 15).

1. The rendered file is one that nginx accepts (`nginx -t` with a temporary prefix).
2. The limits the template states are there, in the context where nginx applies them.
3. A real nginx started from it, in front of a real HTTP server on 127.0.0.1, behaves as the
   comments say: /metrics never reaches the service, a body over the limit is refused
   without reaching it, the client's address and scheme arrive as X-Forwarded-*, and a
   client that drips its headers is cut off while other requests are answered at once.

Needs Debian's `nginx` (scripts/test.sh installs it); without it the nginx tests skip.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.deploy.nginx_conf import ROOT, TEMPLATE, parse, render, walk
from tests.harness.servers import free_port

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
needs_nginx = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (Debian package `nginx`; scripts/test.sh)"
)


def rendered_tree() -> list:
    return parse(render("127.0.0.1:18080", "127.0.0.1:18000"))


def directives(name: str, *, parents: tuple[str, ...] | None = None) -> list:
    found = [d for d in walk(rendered_tree()) if d.name == name]
    if parents is not None:
        found = [d for d in found if d.parents == parents]
    return found


def only(name: str, parents: tuple[str, ...]) -> list[str]:
    (directive,) = directives(name, parents=parents)
    return directive.args


# --- 1. nginx accepts it ---------------------------------------------------------------------


def test_the_template_has_exactly_its_two_variables():
    text = TEMPLATE.read_text()
    assert "${LISTEN}" in text and "${UPSTREAM}" in text
    rendered = render("127.0.0.1:1", "127.0.0.1:2")
    assert "${" not in rendered
    assert "listen 127.0.0.1:1;" in rendered and "server 127.0.0.1:2;" in rendered
    # nginx's own variables are left for nginx.
    assert "$proxy_add_x_forwarded_for" in rendered


@needs_nginx
def test_nginx_accepts_the_rendered_configuration(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(f"127.0.0.1:{free_port()}", "127.0.0.1:8000"))
    done = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


@needs_nginx
def test_nginx_rejects_a_broken_rendering(tmp_path):
    """The check above can fail: a directive nginx does not know is refused."""
    conf = tmp_path / "nginx.conf"
    text = render(f"127.0.0.1:{free_port()}", "127.0.0.1:8000")
    conf.write_text(text.replace("client_max_body_size 1m;", "client_max_body_sizes 1m;"))
    done = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "client_max_body_sizes" in done.stderr


# --- 2. the stated limits --------------------------------------------------------------------

HTTP = ("http",)
LOCATION = ("http", "server", "location")


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("client_max_body_size", ["1m"]),
        ("client_header_timeout", ["10s"]),
        ("client_body_timeout", ["10s"]),
        ("send_timeout", ["10s"]),
        ("large_client_header_buffers", ["4", "8k"]),
        ("client_header_buffer_size", ["1k"]),
    ],
)
def test_client_limits_apply_to_every_request(name, args):
    assert only(name, HTTP) == args
    # ... and nothing deeper overrides them.
    assert directives(name) == directives(name, parents=HTTP)


def test_the_body_limit_admits_the_largest_valid_request_only():
    """1 MiB: above the largest JSON body the API accepts (65536 characters of `data`,
    6 bytes each when \\u-escaped), well below what would let a client tie up memory."""
    from django.conf import settings

    largest_valid = len(json.dumps({"data": "\u0800" * settings.PROCESSING_MAX_DATA_CHARS}))
    assert largest_valid < 1024 * 1024 < 4 * largest_valid


def test_the_worker_count_is_fixed_not_the_nodes_core_count():
    assert only("worker_processes", ()) == ["2"]


def test_requests_and_responses_are_buffered():
    assert only("proxy_request_buffering", LOCATION) == ["on"]
    assert only("proxy_buffering", LOCATION) == ["on"]


def test_the_upstream_keeps_connections_alive():
    (upstream,) = directives("upstream", parents=HTTP)
    assert upstream.children("keepalive")[0].args == ["16"]
    # Shorter than gunicorn's own keep-alive (2 s by default): nginx closes first.
    assert upstream.children("keepalive_timeout")[0].args == ["1s"]
    assert only("proxy_http_version", LOCATION) == ["1.1"]
    headers = {d.args[0]: d.args[1] for d in directives("proxy_set_header")}
    assert headers["Connection"] == ""


def test_the_client_address_and_scheme_are_forwarded():
    headers = {d.args[0]: d.args[1] for d in directives("proxy_set_header", parents=LOCATION)}
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Forwarded-Proto"] == "$forwarded_proto"
    assert headers["Host"] == "$host"


def test_metrics_is_not_served_through_the_proxy():
    locations = {tuple(d.args): d for d in directives("location")}
    metrics = locations[("=", "/metrics")]
    assert metrics.children("return")[0].args == ["404"]
    assert not metrics.children("proxy_pass")


def test_every_path_nginx_writes_is_under_its_prefix():
    """Relative paths resolve under -p (/tmp/nginx in the read-only containers)."""
    for name in (
        "pid",
        *(f"{k}_temp_path" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
    ):
        (directive,) = directives(name)
        assert not directive.args[0].startswith("/"), name


def test_compose_renders_this_template_in_front_of_gunicorn():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    proxy, web = compose["services"]["proxy"], compose["services"]["web"]
    assert (
        "./nginx/nginx.conf.template:/etc/nginx/templates/nginx.conf.template:ro"
        in (proxy["volumes"])
    )
    assert proxy["environment"]["UPSTREAM"] == "web:8000"
    assert proxy["environment"]["NGINX_ENVSUBST_FILTER"] == "^(LISTEN|UPSTREAM)$"
    assert proxy["ports"] == [f"127.0.0.1:8000:{proxy['environment']['LISTEN']}"]
    # gunicorn is reachable inside the compose network only, and trusts one hop.
    assert "ports" not in web
    assert web["environment"]["NUM_PROXIES"] == "1"
    assert proxy["read_only"] is True and proxy["user"] != "0"


# --- 3. a real nginx in front of a real server -----------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """Answers every request with what it received: path, headers and body size."""

    seen: list[dict]
    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body_size = len(self.rfile.read(length)) if length else 0
        record = {"path": self.path, "headers": dict(self.headers), "body_size": body_size}
        type(self).seen.append(record)
        payload = json.dumps(record).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def prefix() -> Iterator[Path]:
    """nginx's prefix. Run as root (CI), nginx's workers are `nobody` and must reach their
    temporary files: a directory of its own in /tmp, not under pytest's private tmp_path."""
    directory = Path(tempfile.mkdtemp(prefix="nginx-test-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def proxy(prefix) -> Iterator[tuple[int, list[dict], Path]]:
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian package `nginx`; scripts/test.sh)")
    tmp_path = prefix
    handler = type("Handler", (Recorder,), {"seen": []})
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(f"127.0.0.1:{port}", f"127.0.0.1:{upstream.server_port}"))
    access_log = tmp_path / "stdout.log"
    with access_log.open("w") as stdout:
        nginx = subprocess.Popen(
            [NGINX, "-p", str(tmp_path), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
            stdout=stdout,
            stderr=subprocess.PIPE,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if nginx.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {nginx.stderr.read()!r}") from None
                time.sleep(0.05)
        yield port, handler.seen, access_log
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        upstream.shutdown()
        upstream.server_close()


def request(port: int, method: str, path: str, body: bytes | None = None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_metrics_never_reaches_the_service(proxy):
    port, seen, _ = proxy
    status, _ = request(port, "GET", "/metrics", headers={"Authorization": "Bearer x"})
    assert status == 404
    assert request(port, "GET", "/health")[0] == 200
    assert [r["path"] for r in seen] == ["/health"]


def test_a_body_over_the_limit_is_refused_without_reaching_the_service(proxy):
    port, seen, _ = proxy
    status, _ = request(port, "POST", "/api/process", body=b"x" * (1024 * 1024 + 1))
    assert status == 413
    assert seen == []
    # The largest valid request passes, whole (buffered to a temporary file on the way).
    status, body = request(port, "POST", "/api/process", body=b"y" * 600_000)
    assert status == 200
    assert json.loads(body)["body_size"] == 600_000


def test_the_service_learns_the_client_address_and_scheme(proxy):
    port, seen, access_log = proxy
    request(port, "GET", "/api/users", headers={"X-Forwarded-For": "203.0.113.7"})
    request(port, "GET", "/api/users", headers={"X-Forwarded-Proto": "https"})
    request(port, "GET", "/api/users", headers={"X-Forwarded-Proto": "gopher"})
    first, second, third = (record["headers"] for record in seen)
    # The last entry is the address nginx saw: the one hop the service trusts (NUM_PROXIES=1).
    assert first["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
    assert second["X-Forwarded-For"] == "127.0.0.1"
    assert first["X-Forwarded-Proto"] == "http"
    assert second["X-Forwarded-Proto"] == "https"
    assert third["X-Forwarded-Proto"] == "http"
    # No "Connection: close" to gunicorn: the upstream connection stays open for reuse.
    assert "Connection" not in first
    time.sleep(0.2)
    lines = [json.loads(line) for line in access_log.read_text().splitlines()]
    assert [line["status"] for line in lines] == [200, 200, 200]


@pytest.mark.e2e
def test_a_client_dripping_its_headers_is_cut_off_and_holds_nothing(proxy):
    """The attack of issue 15, once: a header line every 2 s. When client_header_timeout
    (10 s) is up, nginx closes the connection (its access log says 408); meanwhile other
    requests are served at once, and the service never sees the slow request."""
    port, seen, access_log = proxy
    slow = socket.create_connection(("127.0.0.1", port), timeout=30)
    started = time.monotonic()
    slow.sendall(b"GET /api/slow HTTP/1.1\r\nHost: example\r\n")
    closed_after = None
    for index in range(10):
        time.sleep(2)
        status, _ = request(port, "GET", f"/api/users?during={index}")
        assert status == 200
        try:
            slow.sendall(f"X-Drip-{index}: 1\r\n".encode())
            slow.settimeout(0.05)
            if slow.recv(4096) == b"":
                closed_after = time.monotonic() - started
                break
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            closed_after = time.monotonic() - started
            break
    slow.close()
    assert closed_after is not None, "nginx kept the dripping client past its header timeout"
    assert 9 < closed_after < 15
    assert "/api/slow" not in [r["path"] for r in seen]
    assert len([r for r in seen if r["path"].startswith("/api/users?during=")]) >= 4
    time.sleep(0.2)
    statuses = [json.loads(line)["status"] for line in access_log.read_text().splitlines()]
    assert 408 in statuses
