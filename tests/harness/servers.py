"""Start the real service processes (gunicorn, Celery worker) for end-to-end tests.

Each process runs from the project's own entry points with its own environment, binds only
to 127.0.0.1 on a free port, and is stopped (then killed if it lingers) by the fixture that
started it. A process that dies during start-up fails the test with its output.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.paths import REPO_ROOT

BIN = Path(sys.executable).parent
# What start_web and start_worker run, unless told otherwise (a benchmark's own gunicorn
# config or Celery app, or another checkout of the service: bench/overhead.py).
WEB_CONFIG = "observability_site/gunicorn.conf.py"
CELERY_APP = "observability_site"


def free_port() -> int:
    """A port on 127.0.0.1 free now, for a server this test starts (free_port_range)."""
    return free_port_range(1)[0]


# Every port handed out in this process: a server may not have bound its port yet when the
# next one is asked for. Cleared when large (the range holds over 20,000 ports).
_handed_out: set[int] = set()


def free_port_range(count: int) -> list[int]:
    """COUNT adjacent free ports on 127.0.0.1, below the kernel's ephemeral range, none handed
    out before in this process. Below that range a port is never an outgoing connection's
    local port: a port the kernel picks (bind to port 0) is one, so between the probe closing
    it and the server binding it, any connection (a benchmark's wrk leaves tens of thousands
    in TIME_WAIT, each holding one) could take it ("Address already in use" in CI). Checked
    as the servers bind, with SO_REUSEADDR (a previous server's TIME_WAIT on a port does not
    stop a new listener)."""
    low = _ephemeral_low()
    if len(_handed_out) > 5000:
        _handed_out.clear()
    for _ in range(200):
        first = random.randrange(10_000, max(10_001, low - count))
        ports = list(range(first, first + count))
        if _handed_out.intersection(ports):
            continue
        try:
            for port in ports:
                with socket.socket() as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        _handed_out.update(ports)
        return ports
    raise AssertionError(f"no {count} adjacent free ports")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


@dataclass
class ServiceProcess:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            # SIGTERM to the main process only, as a supervisor should (systemd's
            # KillMode=mixed): gunicorn's master and Celery's main process then stop their
            # workers gracefully, and the workers flush their telemetry on the way out.
            # Signalling the whole group would kill Celery's pool children mid-flight.
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        # Whatever the main process left behind in its group goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)


def start_process(
    name: str, args: list[str], env: dict[str, str], log_dir: Path, *, cwd: Path = REPO_ROOT
) -> ServiceProcess:
    """Start `args` in `cwd` (the service's code comes from there: gunicorn and Celery put
    their working directory first on sys.path), its output in a log file of `log_dir`."""
    log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
    log = log_path.open("wb")
    popen = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so stop() reaches its children
    )
    return ServiceProcess(name, popen, log_path)


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


@dataclass
class Stack:
    """A database and broker prepared for the service, and the processes started on them."""

    env: dict[str, str]
    log_dir: Path
    processes: list[ServiceProcess] = field(default_factory=list)
    base_url: str | None = None

    def start_web(
        self,
        *,
        port: int | None = None,
        config: str = WEB_CONFIG,
        tree: Path = REPO_ROOT,
        **extra_env: str,
    ) -> str:
        """Start gunicorn; return its base URL once it answers /health.

        `config` is its -c file (relative to `tree`, or absolute); `tree` the checkout of the
        service it runs from.
        """
        port = port or free_port()
        env = {**self.env, "PORT": str(port), **extra_env}
        env.setdefault(
            "PROCESSING_DOWNSTREAM_URL", f"http://127.0.0.1:{port}/api/downstream/enrich"
        )
        proc = start_process(
            "web",
            [
                str(BIN / "gunicorn"),
                "-c",
                config,
                "observability_site.wsgi",
            ],
            env,
            self.log_dir,
            cwd=tree,
        )
        self.processes.append(proc)
        self.base_url = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{self.base_url}/health", proc)
        return self.base_url

    def start_worker(
        self,
        *,
        concurrency: int = 2,
        app: str = CELERY_APP,
        tree: Path = REPO_ROOT,
        **extra_env: str,
    ) -> ServiceProcess:
        """Start a prefork Celery worker; return once it is ready to consume.

        Its downstream is the web server started before it, unless extra_env names one.
        `app` is the Celery app module (-A), `tree` the checkout of the service it runs from.
        """
        env = {**self.env, **extra_env}
        if self.base_url:
            env.setdefault("PROCESSING_DOWNSTREAM_URL", f"{self.base_url}/api/downstream/enrich")
        proc = start_process(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                app,
                "worker",
                "--loglevel=INFO",
                f"--concurrency={concurrency}",
                "--without-gossip",
                "--without-mingle",
                f"--hostname=e2e-{uuid.uuid4().hex[:8]}@%h",
            ],
            env,
            self.log_dir,
            cwd=tree,
        )
        self.processes.append(proc)
        wait_for_output(proc, "ready.")
        return proc

    def start_beat(self, **extra_env: str) -> ServiceProcess:
        """Start Celery beat (the periodic job sweeper); return once it has started."""
        env = {**self.env, **extra_env}
        proc = start_process(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "observability_site",
                "beat",
                "--loglevel=INFO",
                f"--schedule={self.log_dir / f'beat-{uuid.uuid4().hex[:6]}'}",
            ],
            env,
            self.log_dir,
        )
        self.processes.append(proc)
        wait_for_output(proc, "beat: Starting...")
        return proc

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        self.processes.clear()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.output()[-4000:]}" for p in self.processes)


def wait_until_serving(url: str, proc: ServiceProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise AssertionError(f"{proc.name} exited during start-up:\n{proc.output()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{proc.name} did not answer {url} in {timeout}s:\n{proc.output()}")


def wait_for_output(proc: ServiceProcess, text: str, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise AssertionError(f"{proc.name} exited during start-up:\n{proc.output()}")
        if text in proc.output():
            return
        time.sleep(0.2)
    raise AssertionError(f"{proc.name} did not print {text!r} in {timeout}s:\n{proc.output()}")


@contextlib.contextmanager
def prepared_stack(tmp_dir: Path) -> Iterator[Stack]:
    """A migrated database and an empty queue, on whatever engine and broker the test run
    uses: SQLite and the filesystem broker by default; PostgreSQL (a fresh database, dropped
    afterwards) and Redis when DATABASE_URL and CELERY_BROKER_URL are set.

    The databases are copies of ones migrated once per test run (`migrated_template`): two
    `manage.py migrate` per stack were minutes of every CI pass."""
    data_dir = tmp_dir / "data"
    data_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_SETTINGS"))}
    env.update(DJANGO_SETTINGS_MODULE="observability_site.settings", PYTHONUNBUFFERED="1")
    template = migrated_template(env)
    for name in template.sqlite_files:
        shutil.copyfile(template.data_dir / name, data_dir / name)
    env.update(DATA_DIR=str(data_dir), CELERY_TASK_DEFAULT_QUEUE=f"e2e-{uuid.uuid4().hex[:10]}")
    database_url = os.environ.get("DATABASE_URL", "")
    created_db = None
    if template.database:
        created_db = f"obs_e2e_{uuid.uuid4().hex[:10]}"
        _copy_postgres_database(database_url, template.database, created_db)
        env["DATABASE_URL"] = _on_database(database_url, created_db)
    stack = Stack(env=env, log_dir=tmp_dir)
    try:
        yield stack
    finally:
        stack.stop()
        if created_db:
            _postgres_admin(database_url, f'DROP DATABASE IF EXISTS "{created_db}" WITH (FORCE)')


@dataclass(frozen=True)
class MigratedTemplate:
    """Databases migrated once, that each stack copies: the SQLite files of `data_dir` (the
    service's own on SQLite, the local telemetry store's unless it lives elsewhere) and, on
    PostgreSQL, a template database."""

    data_dir: Path
    sqlite_files: tuple[str, ...]
    database: str | None


_templates: dict[frozenset[tuple[str, str]], MigratedTemplate] = {}


def migrated_template(env: dict[str, str]) -> MigratedTemplate:
    """The template for this environment, migrated on first use in this test run and removed
    when it ends. Another environment (a test that changed it) gets a template of its own."""
    key = frozenset(env.items())
    if key not in _templates:
        data_dir = Path(tempfile.mkdtemp(prefix="obs-e2e-template-"))
        atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
        migrate_env = {**env, "DATA_DIR": str(data_dir)}
        database_url = env.get("DATABASE_URL", "")
        database = None
        if database_url.startswith("postgres"):
            database = f"obs_e2e_template_{uuid.uuid4().hex[:10]}"
            _postgres_admin(database_url, f'CREATE DATABASE "{database}"')
            atexit.register(
                _postgres_admin, database_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'
            )
            migrate_env["DATABASE_URL"] = _on_database(database_url, database)
        # The local telemetry store's own SQLite file (DATA_DIR/telemetry.sqlite3), when it
        # has one; first, so that the next command's telemetry finds its tables.
        if not env.get("TELEMETRY_LOCAL_STORE_DATABASE"):
            manage(migrate_env, "migrate", "--noinput", "--database", "telemetry_store")
        manage(migrate_env, "migrate", "--noinput")
        sqlite_files = tuple(sorted(path.name for path in data_dir.glob("*.sqlite3")))
        _templates[key] = MigratedTemplate(data_dir, sqlite_files, database)
    return _templates[key]


def _on_database(database_url: str, name: str) -> str:
    """The same server and credentials, database `name`."""
    return urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))


def _postgres_admin(database_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(_on_database(database_url, "postgres"), autocommit=True) as conn:
        conn.execute(statement)


def _copy_postgres_database(database_url: str, template: str, name: str) -> None:
    import psycopg

    # The template's last session (the migrate that just exited) may still be closing.
    deadline = time.monotonic() + 10
    while True:
        try:
            _postgres_admin(database_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return
        except psycopg.errors.ObjectInUse:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def create_superuser(stack: Stack, *, email: str | None = None) -> tuple[str, str]:
    """Create a superuser in the stack's database; return (email, password)."""
    email = email or f"admin-{uuid.uuid4().hex[:6]}@example.com"
    password = uuid.uuid4().hex
    manage(
        {**stack.env, "DJANGO_SUPERUSER_PASSWORD": password},
        *("createsuperuser", "--noinput", "--email", email, "--name", "Admin"),
    )
    return email, password


def api_token(base_url: str, stack: Stack, *, email: str = "e2e@example.com") -> str:
    """Create a staff user in the stack's database and return an API token for it."""
    email, password = create_superuser(stack, email=email)
    return login_token(base_url, email, password)


def login_token(base_url: str, email: str, password: str) -> str:
    """An API token for these credentials (POST /api/auth/token)."""
    response = httpx.post(
        f"{base_url}/api/auth/token", data={"username": email, "password": password}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["token"]


def admin_session(stack: Stack, base_url: str) -> tuple[httpx.Client, str, str]:
    """A new superuser logged in through the admin's login form, as a person would (with
    the CSRF token): (client holding the session cookie, email, password)."""
    email, password = create_superuser(stack)
    client = httpx.Client(base_url=base_url, timeout=20, follow_redirects=False)
    client.get("/admin/login/")
    response = client.post(
        "/admin/login/?next=/admin/",
        data={
            "username": email,
            "password": password,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": f"{base_url}/admin/login/"},
    )
    assert response.status_code == 302, response.text[:2000]
    return client, email, password
