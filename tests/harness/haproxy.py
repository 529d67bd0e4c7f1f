"""HAProxy (Debian's package) in front of several web hosts, for end-to-end tests: round
robin over the servers it finds healthy (`GET /health`), so that a web host that dies is
taken out of the rotation, and a runtime socket to ask it what it thinks of each server.
"""

from __future__ import annotations

import csv
import io
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.harness.netns import Host
from tests.harness.servers import ServiceProcess, Stack, start_process

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
# The response header naming the server that answered (the `server` lines' names).
SERVED_BY = "X-Served-By"


def haproxy_config(*, bind: str, servers: dict[str, str], health_host: str, socket: Path) -> str:
    """The configuration: listen on BIND (address:port), balance over SERVERS (name ->
    address:port), health checks sending `Host: HEALTH_HOST` (one of DJANGO_ALLOWED_HOSTS)."""
    server_lines = "\n".join(
        f"    server {name} {target} check" for name, target in servers.items()
    )
    return f"""\
global
    log stdout format raw local0 info
    # The runtime API: `show stat` says which servers are UP.
    stats socket {socket} mode 600 level admin
    maxconn 2000

defaults
    mode http
    log global
    option httplog
    # The client's address for the service, as a proxy in front of it must give it.
    option forwardfor
    # A request whose connection to a server fails is sent again, to another server
    # (redispatch): a host that just died costs no error to a request not yet sent to it.
    # Only connection failures are retried: a POST that reached a server may have been
    # processed, and sending it again could create a job twice.
    retries 2
    option redispatch 1
    timeout connect 2s
    timeout client 30s
    # gunicorn answers within GUNICORN_TIMEOUT (30 s): wait a little longer, as nginx does.
    timeout server 35s
    timeout check 1s

frontend web
    bind {bind}
    default_backend webs

backend webs
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health ver HTTP/1.1 hdr Host {health_host}
    http-check expect status 200
    # Checked twice a second; two failed checks take a server out, two good ones bring it
    # back. A test's bound: a dead host is out within about 2 s (2 x (500 ms + 1 s timeout)).
    # Not `on-marked-down shutdown-sessions`: it would end the requests a dead host was
    # serving at once instead of after `timeout server`, but it also ends those still
    # connecting to it, which `redispatch` sends to another server (docs/scaling.md).
    default-server inter 500ms fastinter 250ms downinter 500ms rise 2 fall 2
    http-response set-header {SERVED_BY} %s
{server_lines}
"""


@dataclass
class LoadBalancer:
    """A running HAProxy: its address, its process and its runtime socket."""

    address: str
    port: int
    socket: Path
    process: ServiceProcess

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def server_states(self) -> dict[str, str]:
        """Each server's status as HAProxy sees it now: UP, DOWN, "UP 1/2" (going down) ..."""
        return {name: row["status"] for name, row in self._server_stats().items()}

    def requests_in_progress(self, server: str) -> int:
        """How many requests SERVER is serving now (HAProxy's current sessions to it)."""
        return int(self._server_stats()[server]["scur"] or 0)

    def _server_stats(self) -> dict[str, dict[str, str]]:
        with socket.socket(socket.AF_UNIX) as runtime:
            runtime.settimeout(5)
            runtime.connect(str(self.socket))
            runtime.sendall(b"show stat\n")
            chunks = []
            while chunk := runtime.recv(65536):
                chunks.append(chunk)
        text = b"".join(chunks).decode().lstrip("# ")
        return {
            row["svname"]: row
            for row in csv.DictReader(io.StringIO(text))
            if row["pxname"] == "webs" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def wait_for_states(self, expected: dict[str, str], timeout: float = 30) -> float:
        """Wait until every server named in EXPECTED has that status; the seconds it took."""
        started = time.monotonic()
        while (states := self.server_states()) and any(
            states.get(name) != status for name, status in expected.items()
        ):
            if self.process.popen.poll() is not None:
                raise AssertionError(f"haproxy exited:\n{self.process.output()}")
            if time.monotonic() - started > timeout:
                raise AssertionError(f"haproxy: {states}, not {expected} after {timeout}s")
            time.sleep(0.1)
        return time.monotonic() - started


def start_haproxy(
    stack: Stack,
    host: Host,
    directory: Path,
    *,
    servers: dict[str, str],
    port: int = 8080,
) -> LoadBalancer:
    """Start HAProxy inside HOST, on its address (stopped with STACK), in front of SERVERS;
    return once it listens. Its servers may still be DOWN: see `wait_for_states`."""
    directory.mkdir(parents=True, exist_ok=True)
    runtime = directory / "haproxy.sock"
    config = directory / "haproxy.cfg"
    config.write_text(
        haproxy_config(
            bind=f"{host.address}:{port}",
            servers=servers,
            health_host=host.address,
            socket=runtime,
        )
    )
    check = start_process("haproxy-check", [HAPROXY, "-c", "-f", str(config)], stack.env, directory)
    assert check.popen.wait(30) == 0, f"haproxy -c refused {config}:\n{check.output()}"
    # -db: in the foreground, logging to stdout, stopped by SIGTERM like the other servers.
    process = start_process(
        "haproxy", host.command(HAPROXY, "-db", "-f", str(config)), stack.env, directory
    )
    stack.processes.append(process)
    balancer = LoadBalancer(address=host.address, port=port, socket=runtime, process=process)
    deadline = time.monotonic() + 20
    while not runtime.exists() or not _answers(balancer.url):
        if process.popen.poll() is not None:
            raise AssertionError(f"haproxy exited:\n{process.output()}")
        assert time.monotonic() < deadline, f"haproxy did not listen in 20s:\n{process.output()}"
        time.sleep(0.1)
    return balancer


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return True
