"""A TLS-terminating proxy in front of the test collector: Debian's nginx, taking OTLP/gRPC
(HTTP/2 over TLS, `grpc_pass`) and OTLP/HTTP (`proxy_pass`) on 127.0.0.1 and passing them
to rotel in plaintext, as a TLS-terminating load balancer or sidecar does in production.

rotel's OTLP receiver has no TLS settings (its exporters have), so the collector's side of
the link is nginx here. Each of its ports either asks for a client certificate signed by the
test CA (mutual TLS: `ssl_verify_client on`) or not. Its access log records, per request,
the port, path, status, the Content-Encoding and grpc-encoding headers the client sent
(proof of gzip on the wire) and whether a client certificate was verified.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.collector import Collector
from tests.harness.servers import free_port
from tests.harness.tls import Certificates

NGINX = "/usr/sbin/nginx"

_CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format otlp 'port=$server_port uri=$uri status=$status '
                    'content_encoding=$http_content_encoding grpc_encoding=$http_grpc_encoding '
                    'client_verify=$ssl_client_verify token=$http_x_otlp_token';
    access_log {directory}/access.log otlp;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    client_max_body_size 64m;
    ssl_certificate {certificates.server_certificate};
    ssl_certificate_key {certificates.server_key};
    ssl_client_certificate {certificates.ca};
    ssl_protocols TLSv1.2 TLSv1.3;
{servers}
}}
"""

_GRPC_SERVER = """\
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_verify_client {verify};
        location / {{ grpc_pass grpc://127.0.0.1:{upstream}; }}
    }}
"""

_HTTP_SERVER = """\
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_verify_client {verify};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
        }}
    }}
"""


@dataclass
class TlsProxy:
    """nginx on four ports: gRPC and HTTP, each with TLS only and with mutual TLS."""

    collector: Collector
    certificates: Certificates
    directory: Path
    grpc_port: int = field(default_factory=free_port)
    grpc_mtls_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    http_mtls_port: int = field(default_factory=free_port)
    popen: subprocess.Popen | None = None

    def endpoint(self, protocol: str, *, mutual: bool = False) -> str:
        """The https:// endpoint for OTEL_EXPORTER_OTLP_ENDPOINT."""
        if protocol == "grpc":
            port = self.grpc_mtls_port if mutual else self.grpc_port
        else:
            port = self.http_mtls_port if mutual else self.http_port
        return f"https://127.0.0.1:{port}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        servers = "".join(
            template.format(port=port, verify=verify, upstream=upstream)
            for template, port, verify, upstream in (
                (_GRPC_SERVER, self.grpc_port, "off", self.collector.grpc_port),
                (_GRPC_SERVER, self.grpc_mtls_port, "on", self.collector.grpc_port),
                (_HTTP_SERVER, self.http_port, "off", self.collector.http_port),
                (_HTTP_SERVER, self.http_mtls_port, "on", self.collector.http_port),
            )
        )
        config = self.directory / "nginx.conf"
        text = _CONFIG.format(
            directory=self.directory, certificates=self.certificates, servers=servers
        )
        config.write_text(text)
        check = subprocess.run(
            [NGINX, "-t", "-p", str(self.directory), "-c", str(config), "-e", "stderr"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert check.returncode == 0, f"nginx -t failed:\n{check.stderr}"
        with (self.directory / "nginx.out").open("wb") as out:
            self.popen = subprocess.Popen(
                [NGINX, "-p", str(self.directory), "-c", str(config), "-e", "stderr"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        ports = (self.grpc_port, self.grpc_mtls_port, self.http_port, self.http_mtls_port)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"nginx exited:\n{self.errors()}")
            if all(_accepts(port) for port in ports):
                return
            time.sleep(0.1)
        raise AssertionError(f"nginx did not listen in 20s:\n{self.errors()}")

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        # SIGQUIT: nginx's graceful stop (SIGTERM is its fast one); its group goes either way.
        os.killpg(self.popen.pid, signal.SIGQUIT)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def access_log(self) -> list[dict[str, str]]:
        """One dict per request nginx served: port, uri, status, content_encoding,
        grpc_encoding, client_verify, token (the X-OTLP-Token header; '-' where a header
        was absent)."""
        path = self.directory / "access.log"
        if not path.exists():
            return []
        entries = []
        for line in path.read_text(errors="replace").splitlines():
            entry = dict(part.split("=", 1) for part in line.split() if "=" in part)
            entries.append({k: v or "-" for k, v in entry.items()})
        return entries

    def errors(self) -> str:
        texts = []
        for name in ("nginx.out", "error.log"):
            path = self.directory / name
            if path.exists():
                texts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(texts)


def _accepts(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def running_tls_proxy(
    collector: Collector, certificates: Certificates, directory: Path
) -> Iterator[TlsProxy]:
    proxy = TlsProxy(collector=collector, certificates=certificates, directory=directory)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
