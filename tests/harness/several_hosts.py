"""The service on several hosts, built on this machine for end-to-end tests: the shape of
docs/scaling.md with the machine's own engines (HAProxy, gunicorn, Celery on Redis,
PostgreSQL, rotel as the collectors, Prometheus).

```
 root namespace: the test (client), Prometheus, the relay to PostgreSQL (127.0.0.1:5432)
      | <subnet>.1
 =====+================ one segment (tests/harness/netns.py) =================================
      |            |             |             |              |               |
  lb .10       web-a .11     web-b .12     worker .13     data .14        gateway .15
  HAProxy      gunicorn      gunicorn      Celery         redis-server    rotel: the gateway
  :8080 ->     :8000         :8000         worker         :6379: broker,  collector, :4317,
  web-a, web-b agent :4317   agent :4317   agent :4317    cache, control  prints the spans
               metrics :9464-9465 (x2)                    store
```

Every host runs its own collector agent on its own address (as a Kubernetes node's agent
on status.hostIP), which stamps `host.name=<role>` on what it forwards to the gateway: the
namespaces share this machine's hostname, and the agent is what knows the host. Each host
has a DATA_DIR of its own, so nothing passes between hosts through files; what they share
is what several machines share: the database, Redis (the broker, the cache, the control
store that carries admin edits), DJANGO_SECRET_KEY, and the gateway.

The worker's downstream is web host B itself (not the load balancer), so a job's trace
provably crosses B. The real OpenTelemetry Collector binary cannot be had here: the
gateway is a rotel agent too, so this shows the agents and the gateway tier, not the
load_balancing and tail_sampling components (tests/deploy/test_collector_tier.py checks
those configurations).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import kombu
import redis

from tests.harness import netns
from tests.harness.collector import Collector
from tests.harness.haproxy import HAPROXY, LoadBalancer, start_haproxy
from tests.harness.prometheus import OTEL_JOB, PROMETHEUS, start_prometheus
from tests.harness.servers import (
    BIN,
    ServiceProcess,
    Stack,
    prepared_stack,
    start_process,
    wait_for_output,
    wait_until_serving,
)
from tests.harness.tcp_proxy import TcpProxy

SERVICE_NAME = "observability-site"
WEB_HOSTS = ("web-a", "web-b")
ROLES = ("lb", *WEB_HOSTS, "worker", "data", "gateway")
WEB_PORT = 8000
OTLP_GRPC, OTLP_HTTP = 4317, 4318
# One port per gunicorn worker (GUNICORN_WORKERS=2), on each web host's address.
OTEL_METRICS_PORTS = (9464, 9465)
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def unavailable_reason() -> str | None:
    """Why the several-host shape cannot be built here (a skip reason), or None."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return (
            "hosts share a database server: this runs in the PostgreSQL pass "
            "(SQLite is a file on one machine)"
        )
    for binary, package in ((HAPROXY, "haproxy"), (REDIS_SERVER, "redis-server")):
        if not Path(binary).exists():
            return f"{binary} is missing: apt-get install -y {package}"
    if not Path(PROMETHEUS).exists():
        return f"{PROMETHEUS} is missing: apt-get install -y prometheus"
    return netns.unavailable_reason()


@dataclass
class SeveralHosts:
    """The running hosts and what the test reaches them by."""

    network: netns.Network
    stack: Stack
    lb: LoadBalancer
    gateway: Collector
    agents: dict[str, Collector]
    web: dict[str, ServiceProcess]
    worker: ServiceProcess
    broker_url: str
    prometheus_url: str
    # Each service host's DATA_DIR: separate, as on separate machines.
    data_dirs: dict[str, Path] = field(default_factory=dict)
    # Seconds each stage of the build took ("network", "database", ...), for the report.
    timings: dict[str, float] = field(default_factory=dict)

    def host(self, role: str) -> netns.Host:
        return self.network.hosts[role]

    def web_url(self, role: str) -> str:
        """A web host's own address, bypassing the load balancer."""
        return f"http://{self.host(role).address}:{WEB_PORT}"

    def metrics_targets(self, role: str) -> list[str]:
        """The scrape targets of a web host's OpenTelemetry metrics (one per worker)."""
        return [f"{self.host(role).address}:{port}" for port in OTEL_METRICS_PORTS]

    def logs(self) -> str:
        """The tail of every process's output, for a failing test's report."""
        parts = [self.stack.logs()]
        for role, agent in self.agents.items():
            parts.append(f"--- agent on {role} ---\n{agent.output()[-2000:]}")
        states = "?"
        with contextlib.suppress(OSError):
            states = str(self.lb.server_states())
        parts.append(f"--- haproxy states: {states}")
        return "\n".join(parts)

    def send_untraced_task(self, name: str, **kwargs: str) -> str:
        """Queue task NAME straight into the broker, with no trace context in its headers,
        as beat or another producer without OpenTelemetry would: the worker's span for it
        starts a trace, decided by the worker's own sampler. Returns the task id."""
        from celery import Celery

        # Celery only builds the message (its protocol 2); kombu sends it. app.send_task
        # would fire Celery's publish signals, through which an instrumented test process
        # puts its own traceparent into the message, and it would take the broker from
        # CELERY_BROKER_URL, which Celery prefers to the one it is given.
        message = Celery(set_as_current=False).amqp.as_task_v2(
            task_id := str(uuid.uuid4()), name, args=(), kwargs=kwargs
        )
        queue = self.stack.env["CELERY_TASK_DEFAULT_QUEUE"]
        with kombu.Connection(self.broker_url) as connection:
            connection.Producer(serializer="json").publish(
                message.body, routing_key=queue, headers=message.headers, **message.properties
            )
        return task_id


@contextlib.contextmanager
def several_hosts(tmp_dir: Path) -> Iterator[SeveralHosts]:
    """Build the hosts, start everything on them, wait until the load balancer sees both web
    hosts UP; stop and remove all of it at the end, whatever happens."""
    timings: dict[str, float] = {}
    mark = time.monotonic()

    def timed(stage: str) -> None:
        nonlocal mark
        timings[stage] = round(time.monotonic() - mark, 1)
        mark = time.monotonic()

    with contextlib.ExitStack() as cleanup:
        network = cleanup.enter_context(netns.host_network())
        hosts = {role: network.add_host(role) for role in ROLES}
        timed("network")

        # PostgreSQL listens on the root namespace's loopback: a relay on the root end of
        # the segment. The machine's server, a fresh database per run (prepared_stack).
        database = urlsplit(os.environ["DATABASE_URL"])
        relay = TcpProxy(
            database.hostname or "127.0.0.1",
            database.port or 5432,
            listen_host=network.root_address,
        )
        relay.start()
        cleanup.callback(relay.cut)
        stack = cleanup.enter_context(prepared_stack(tmp_dir))
        timed("database")
        relayed = urlsplit(stack.env["DATABASE_URL"])
        credentials = relayed.netloc.rpartition("@")[0]
        database_url = urlunsplit(
            relayed._replace(netloc=f"{credentials}@{network.root_address}:{relay.port}")
        )

        data = hosts["data"]
        # Redis refuses clients from other hosts without a password (protected mode).
        redis_password = secrets.token_hex(16)
        redis_base = f"redis://:{redis_password}@{data.address}:6379"
        broker_url = f"{redis_base}/0"
        _start_redis(stack, data, tmp_dir / "redis", redis_password)

        gateway = _collector(tmp_dir, hosts["gateway"], debug_signals=("traces",))
        gateway.start()
        cleanup.callback(gateway.stop)
        agents = {}
        for role in (*WEB_HOSTS, "worker"):
            agent = _collector(
                tmp_dir,
                hosts[role],
                forward_to=gateway.grpc_endpoint,
                resource_attributes={"host.name": role},
                debug_signals=(),
            )
            agent.start()
            cleanup.callback(agent.stop)
            agents[role] = agent
        timed("redis and collectors")
        # Last in, first out: the service processes stop (and flush) while the agents and
        # the gateway still run, then those, then the database goes, then the hosts.
        cleanup.callback(stack.stop)

        shared = {
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "TELEMETRY_CONTROL_REDIS_URL": broker_url,
            "CACHE_URL": f"{redis_base}/1",
            # Sessions, CSRF tokens and signed values must verify on every host.
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "OTEL_SERVICE_NAME": SERVICE_NAME,
            "OTEL_METRIC_EXPORT_INTERVAL": "5000",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTEL_BLRP_SCHEDULE_DELAY": "200",
            "API_THROTTLE_USER": "100000/min",
        }
        web = {}
        for role in WEB_HOSTS:
            host = hosts[role]
            env = _host_env(stack, host, hosts["lb"], tmp_dir, shared)
            env.update(
                GUNICORN_BIND=f"{host.address}:{WEB_PORT}",
                GUNICORN_WORKERS=str(len(OTEL_METRICS_PORTS)),
                PROCESSING_DOWNSTREAM_URL=f"http://{host.address}:{WEB_PORT}/api/downstream/enrich",
                OTEL_METRICS_EXPORTER="otlp,prometheus",
                OTEL_EXPORTER_PROMETHEUS_HOST=host.address,
                OTEL_EXPORTER_PROMETHEUS_PORT=f"{min(OTEL_METRICS_PORTS)}-{max(OTEL_METRICS_PORTS)}",
            )
            command = [
                str(BIN / "gunicorn"),
                *("-c", "observability_site/gunicorn.conf.py", "observability_site.wsgi"),
            ]
            web[role] = start_process(role, host.command(*command), env, stack.log_dir)
            stack.processes.append(web[role])
        worker_host = hosts["worker"]
        env = _host_env(stack, worker_host, hosts["lb"], tmp_dir, shared)
        # The downstream call is served by web host B, by its own address.
        env["PROCESSING_DOWNSTREAM_URL"] = (
            f"http://{hosts['web-b'].address}:{WEB_PORT}/api/downstream/enrich"
        )
        command = [
            str(BIN / "celery"),
            *("-A", "observability_site", "worker", "--loglevel=INFO", "--concurrency=2"),
            *("--without-gossip", "--without-mingle", "--hostname=celery@worker"),
        ]
        worker = start_process("worker", worker_host.command(*command), env, stack.log_dir)
        stack.processes.append(worker)

        for role, process in web.items():
            wait_until_serving(f"http://{hosts[role].address}:{WEB_PORT}/health", process, 60)
        wait_for_output(worker, "ready.", 60)
        timed("web hosts and worker")

        lb = start_haproxy(
            stack,
            hosts["lb"],
            tmp_dir / "haproxy",
            servers={role: f"{hosts[role].address}:{WEB_PORT}" for role in WEB_HOSTS},
        )
        lb.wait_for_states({role: "UP" for role in WEB_HOSTS})
        timed("load balancer")
        cluster = SeveralHosts(
            network=network,
            stack=stack,
            lb=lb,
            gateway=gateway,
            agents=agents,
            web=web,
            worker=worker,
            broker_url=broker_url,
            prometheus_url="",
            timings=timings,
            data_dirs={role: tmp_dir / role / "data" for role in (*WEB_HOSTS, "worker")},
        )
        targets = [t for role in WEB_HOSTS for t in cluster.metrics_targets(role)]
        cluster.prometheus_url = start_prometheus(
            stack, tmp_dir / "prometheus", targets={OTEL_JOB: targets}
        )
        timed("prometheus")
        yield cluster


def _host_env(
    stack: Stack, host: netns.Host, lb: netns.Host, tmp_dir: Path, shared: dict[str, str]
) -> dict[str, str]:
    data_dir = tmp_dir / host.role / "data"
    data_dir.mkdir(parents=True)
    return {
        **stack.env,
        **shared,
        "DATA_DIR": str(data_dir),
        # Its own address (Prometheus, direct calls) and the name clients use: the LB's.
        "DJANGO_ALLOWED_HOSTS": f"{host.address},{lb.address},127.0.0.1,localhost",
        # Its own agent, on its own address (as status.hostIP in Kubernetes).
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host.address}:{OTLP_GRPC}",
    }


def _collector(tmp_dir: Path, host: netns.Host, **options) -> Collector:
    log_dir = tmp_dir / host.role / "collector"
    log_dir.mkdir(parents=True)
    return Collector(
        log_dir=log_dir,
        grpc_port=OTLP_GRPC,
        http_port=OTLP_HTTP,
        host=host.address,
        wrap=host.command(),
        **options,
    )


def _start_redis(stack: Stack, host: netns.Host, directory: Path, password: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        REDIS_SERVER,
        *("--bind", host.address, "--port", "6379", "--requirepass", password),
        # A throw-away broker: nothing is written to disk.
        *("--save", "", "--appendonly", "no", "--dir", str(directory)),
    ]
    process = start_process("redis", host.command(*command), stack.env, directory)
    stack.processes.append(process)
    client = redis.Redis(host=host.address, password=password, socket_connect_timeout=1)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            return
        except redis.RedisError:
            if process.popen.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not start:\n{process.output()}") from None
            time.sleep(0.1)
