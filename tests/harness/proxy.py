"""nginx in front of a running gunicorn, from deploy/nginx/nginx.conf.template, as compose and
deploy/local/run-proxy.sh run it: the buffering proxy the end-to-end tests go through."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.deploy.nginx_conf import render
from tests.harness.servers import (
    ServiceProcess,
    Stack,
    free_port,
    start_process,
    wait_until_serving,
)

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def start_proxy(stack: Stack, upstream_url: str) -> str:
    """Start nginx on a free port in front of `upstream_url` (http://127.0.0.1:PORT); return
    its base URL once it answers /health. Stopped with the stack."""
    assert NGINX, "nginx is not installed (Debian package `nginx`; scripts/test.sh)"
    port = free_port()
    prefix = stack.log_dir / f"nginx-{port}"
    prefix.mkdir()
    upstream = upstream_url.removeprefix("http://")
    (prefix / "nginx.conf").write_text(render(f"127.0.0.1:{port}", upstream))
    proc: ServiceProcess = start_process(
        "proxy",
        [
            NGINX,
            "-p",
            str(prefix),
            "-c",
            str(prefix / "nginx.conf"),
            "-e",
            "stderr",
            "-g",
            "daemon off;",
        ],
        dict(stack.env),
        stack.log_dir,
    )
    stack.processes.append(proc)
    base_url = f"http://127.0.0.1:{port}"
    wait_until_serving(f"{base_url}/health", proc)
    return base_url
