"""Every documented way to serve the app, started for real on 127.0.0.1: gunicorn with its
sync, gthread and uvicorn worker classes (observability_site/gunicorn.conf.py), uvicorn on
its own with --workers, and the entry modules under other servers: waitress for wsgi.py,
hypercorn (--workers, spawned like uvicorn's) for asgi.py.

Each server is one command line of the service's own entry points; the process joins the
stack's processes (stopped with SIGTERM to its main process, as a supervisor does).
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.harness.servers import BIN, Stack, free_port, start_process, wait_until_serving

GUNICORN_CONF = "observability_site/gunicorn.conf.py"


@dataclass(frozen=True)
class WebServer:
    """How to start one kind of server with `workers` worker processes."""

    name: str
    interface: str  # "wsgi" or "asgi": the entry module it serves
    processes: str  # "forked" (gunicorn), "spawned" (multiprocessing spawn) or "single"

    def command(self, port: int, workers: int) -> list[str]:
        bind = f"127.0.0.1:{port}"
        if self.name.startswith("gunicorn"):
            app = (
                "observability_site.asgi:application"
                if self.interface == "asgi"
                else ("observability_site.wsgi")
            )
            return [str(BIN / "gunicorn"), "-c", GUNICORN_CONF, "--bind", bind, app]
        if self.name == "uvicorn":
            return [
                str(BIN / "uvicorn"),
                "observability_site.asgi:application",
                *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
                "--no-access-log",
            ]
        if self.name == "hypercorn":
            return [
                str(BIN / "hypercorn"),
                *("--bind", bind, "--workers", str(workers)),
                "observability_site.asgi:application",
            ]
        if self.name == "waitress":
            return [
                str(BIN / "waitress-serve"),
                f"--listen={bind}",
                "--threads=4",
                "observability_site.wsgi:application",
            ]
        raise ValueError(self.name)

    def environment(self, workers: int) -> dict[str, str]:
        env = {"GUNICORN_WORKERS": str(workers)}
        if self.name == "gunicorn-sync":
            env["GUNICORN_WORKER_CLASS"] = "sync"
        elif self.name == "gunicorn-gthread":
            env["GUNICORN_WORKER_CLASS"] = "gthread"
        elif self.name == "gunicorn-uvicorn":
            env["GUNICORN_WORKER_CLASS"] = "uvicorn_worker.UvicornWorker"
        return env

    def worker_processes(self, workers: int) -> int:
        """How many processes serve requests."""
        return 1 if self.processes == "single" else workers


WEB_SERVERS = {
    server.name: server
    for server in (
        WebServer("gunicorn-sync", "wsgi", "forked"),
        WebServer("gunicorn-gthread", "wsgi", "forked"),
        WebServer("gunicorn-uvicorn", "asgi", "forked"),
        WebServer("uvicorn", "asgi", "spawned"),
        WebServer("hypercorn", "asgi", "spawned"),
        WebServer("waitress", "wsgi", "single"),
    )
}


def start_web_server(stack: Stack, server: WebServer, *, workers: int = 2, **extra_env: str):
    """Start `server` on a free port with the stack's environment; return (base URL, its
    ServiceProcess) once it answers /health."""
    port = free_port()
    env = {**stack.env, "PORT": str(port), **server.environment(workers), **extra_env}
    # A downstream on another port: a sync worker calling itself would wait on itself.
    env.setdefault("PROCESSING_DOWNSTREAM_URL", f"http://127.0.0.1:{port}/api/downstream/enrich")
    proc = start_process(server.name, server.command(port, workers), env, stack.log_dir)
    stack.processes.append(proc)
    base_url = f"http://127.0.0.1:{port}"
    wait_until_serving(f"{base_url}/health", proc, timeout=60)
    return base_url, proc
