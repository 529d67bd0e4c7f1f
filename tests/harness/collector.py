"""A real OTLP collector for end-to-end tests: rotel-agent (PyPI package `rotel`) on
127.0.0.1, printing what it receives, and a parser for that printout.

rotel's debug exporter prints every span, metric and log record it receives in the
OpenTelemetry Collector's "detailed" text layout; `received()` turns that into plain dicts
the tests query. The collector can be stopped and started again on the same port, to test
what the service does while its collector is away.

The same class runs the collector tier of several hosts (tests/harness/several_hosts.py):
inside a host (`wrap`, the host's `ip netns exec`), on the host's address (`host`), as an
agent that forwards everything over OTLP/gRPC to a gateway (`forward_to`) and stamps what it
forwards with the host's identity (`resource_attributes`), printing nothing or only some
signals (`debug_signals`).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rotel

from tests.harness.servers import free_port

ROTEL_AGENT = Path(rotel.__file__).parent / "rotel-agent"
_COLUMNS = {
    "Trace ID": "trace_id",
    "Span ID": "span_id",
    "Parent ID": "parent_id",
    "ID": "span_id",
    "Name": "name",
    "Kind": "kind",
    "Body": "body",
    "Status code": "status",
    "Start time": "start_time",  # nanoseconds since the epoch
    "End time": "end_time",
}
_VALUE = re.compile(r"^(Str|Int|Double|Bool|Bytes|Map|Slice|Empty)\((.*)\)$", re.S)


@dataclass
class Received:
    """What the collector printed, parsed: spans, metrics and log records."""

    spans: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)

    def spans_in(self, trace_id: str) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["trace_id"] == trace_id]

    def logs_in(self, trace_id: str) -> list[dict[str, Any]]:
        return [r for r in self.logs if r["trace_id"] == trace_id]

    def metric_names(self) -> set[str]:
        return {m["name"] for m in self.metrics}

    def metrics_with_exemplar_in(self, trace_id: str) -> set[str]:
        return {m["name"] for m in self.metrics if trace_id in m["exemplar_trace_ids"]}


def spans_named(spans: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The spans among `spans` whose name is `name`, in the order they were received."""
    return [s for s in spans if s["name"] == name]


def _value(raw: str) -> Any:
    match = _VALUE.match(raw.strip())
    if not match:
        return raw.strip()
    kind, text = match.groups()
    if kind == "Int":
        return int(text)
    if kind == "Double":
        return float(text)
    if kind == "Bool":
        return text == "true"
    return text


def parse(text: str) -> Received:
    """Parse rotel's `--debug-log-verbosity detailed` output."""
    received = Received()
    resource: dict[str, Any] = {}
    item: dict[str, Any] | None = None  # the span, metric or log record being read
    attributes: dict[str, Any] | None = None  # where "-> key: value" lines go
    in_exemplar = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("ResourceSpans #", "ResourceMetrics #", "ResourceLog")):
            resource, item, attributes = {}, None, None
            continue
        if stripped == "Resource attributes:":
            attributes = resource
            continue
        if stripped.startswith("Span #"):
            item = {"resource": resource, "attributes": {}, "kind": "", "name": ""}
            item.update(trace_id="", span_id="", parent_id="", status="", events=[])
            item.update(start_time="", end_time="")
            received.spans.append(item)
            attributes = None
            continue
        if stripped.startswith("Metric #"):
            item = {"resource": resource, "name": "", "points": [], "exemplar_trace_ids": set()}
            received.metrics.append(item)
            attributes, in_exemplar = None, False
            continue
        if stripped.startswith("LogRecord #"):
            item = {"resource": resource, "attributes": {}, "trace_id": "", "span_id": ""}
            item["body"] = ""
            received.logs.append(item)
            attributes = None
            continue
        if item is None:
            if stripped.startswith("-> ") and attributes is not None:
                key, _, raw = stripped[3:].partition(": ")
                attributes[key] = _value(raw)
            continue
        if stripped.startswith("SpanEvent #") and "events" in item:
            item["events"].append({})
            attributes = item["events"][-1]
            continue
        if stripped == "Attributes:" and "attributes" in item and not item.get("events"):
            attributes = item["attributes"]
            continue
        if stripped == "Data point attributes:" and "points" in item:
            item["points"].append({})
            attributes, in_exemplar = item["points"][-1], False
            continue
        if stripped.startswith("Exemplar #"):
            in_exemplar, attributes = True, None
            continue
        if stripped.startswith("-> "):
            key, _, raw = stripped[3:].partition(": ")
            if "points" in item and key == "Name" and not item["name"]:
                item["name"] = raw.strip()
            elif in_exemplar and key == "Trace ID":
                item["exemplar_trace_ids"].add(raw.strip())
            elif attributes is not None:
                attributes[key] = _value(raw)
            continue
        key, sep, raw = stripped.partition(":")
        if not sep:
            continue
        key, raw = key.strip(), raw.strip()
        if key in _COLUMNS:
            name = _COLUMNS[key]
            if name in item and not isinstance(item[name], (list, set, dict)):
                item[name] = _value(raw) if key == "Body" else raw
                attributes = None
    return received


def start_seconds(span: dict[str, Any]) -> float:
    """When SPAN started, in seconds since the epoch (the clock of time.time())."""
    return int(span["start_time"]) / 1e9


@dataclass
class Collector:
    """rotel-agent listening for OTLP/gRPC (and OTLP/HTTP) on 127.0.0.1, or on `host`."""

    log_dir: Path
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    popen: subprocess.Popen | None = None
    log_paths: list[Path] = field(default_factory=list)
    # Where it listens (and is probed from this process): another address of this machine,
    # such as a host's on a test network (tests/harness/netns.py).
    host: str = "127.0.0.1"
    # A command prefix to run it with: a host's `ip netns exec <namespace>`.
    wrap: list[str] = field(default_factory=list)
    # An OTLP/gRPC endpoint to forward everything to (an agent in front of a gateway);
    # None: received data is printed and dropped (the blackhole exporter).
    forward_to: str | None = None
    # Set on the resource of everything it receives (rotel's --otel-resource-attributes
    # overwrites a key the sender set): an agent says which host the data came through.
    resource_attributes: dict[str, str] = field(default_factory=dict)
    # The signals it prints, for `received()`.
    debug_signals: tuple[str, ...] = ("traces", "metrics", "logs")

    @property
    def grpc_endpoint(self) -> str:
        return f"http://{self.host}:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def start(self) -> None:
        """Start (or start again, on the same ports) and wait until it accepts connections."""
        assert self.popen is None or self.popen.poll() is not None, "already running"
        log_path = self.log_dir / f"rotel-{len(self.log_paths)}.log"
        self.log_paths.append(log_path)
        args = [
            *self.wrap,
            str(ROTEL_AGENT),
            "start",
            "--otlp-grpc-endpoint",
            f"{self.host}:{self.grpc_port}",
            "--otlp-http-endpoint",
            f"{self.host}:{self.http_port}",
        ]
        if self.forward_to:
            args += ["--exporter", "otlp", "--otlp-exporter-endpoint", self.forward_to]
            # A gateway that is not up yet is retried after 1 s, not rotel's default 5 s.
            args += ["--otlp-exporter-retry-initial-backoff", "1s"]
        else:
            args += ["--exporter", "blackhole"]
        for signal_name in self.debug_signals:
            args += ["--debug-log", signal_name]
        if self.debug_signals:
            args += ["--debug-log-verbosity", "detailed"]
        if self.resource_attributes:
            pairs = ",".join(f"{k}={v}" for k, v in self.resource_attributes.items())
            args += ["--otel-resource-attributes", pairs]
        with log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.log_dir,
                env={**os.environ, "ROTEL_LOG_FILE": str(self.log_dir / "rotel-agent.log")},
                start_new_session=True,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"rotel-agent exited:\n{self.output()}")
            if _accepts(self.grpc_port, self.host) and _accepts(self.http_port, self.host):
                return
            time.sleep(0.1)
        raise AssertionError(f"rotel-agent did not listen in 20s:\n{self.output()}")

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.log_paths if p.exists())

    def received(self, *, since_last_start: bool = False) -> Received:
        """Everything received so far (or only since the latest start)."""
        if since_last_start:
            path = self.log_paths[-1]
            return parse(path.read_text(errors="replace") if path.exists() else "")
        return parse(self.output())

    def wait_for(
        self,
        what: str,
        condition: Callable[[Received], bool],
        timeout: float = 40,
        *,
        since_last_start: bool = False,
    ) -> Received:
        """Poll the printout until `condition` holds; fail with `what` after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            received = self.received(since_last_start=since_last_start)
            if condition(received):
                return received
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the collector did not receive {what} in {timeout}s; it got "
                    f"{len(received.spans)} spans ({sorted({s['name'] for s in received.spans})}),"
                    f" {len(received.metrics)} metrics, {len(received.logs)} log records"
                )
            time.sleep(0.3)


def _accepts(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@contextlib.contextmanager
def running_collector(log_dir: Path) -> Iterator[Collector]:
    collector = _started_on_free_ports(log_dir)
    try:
        yield collector
    finally:
        collector.stop()


def _started_on_free_ports(log_dir: Path, attempts: int = 3) -> Collector:
    """A collector on ports free a moment ago: between free_port() closing its socket and
    rotel binding, another process on the machine can still bind the port (CI saw "Address
    already in use" when free_port() still handed out ephemeral ports). No one knows the
    ports yet, so new ones are as good."""
    for attempt in range(attempts):
        collector = Collector(log_dir=log_dir)
        try:
            collector.start()
            return collector
        except AssertionError:
            collector.stop()
            if "Address already in use" not in collector.output() or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def otlp_env(collector: Collector, **extra: str) -> dict[str, str]:
    """Environment for a service process that exports to `collector`, quickly (tests wait
    seconds, not the production minute, for a metric export)."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.grpc_endpoint,
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_BLRP_SCHEDULE_DELAY": "200",
        **extra,
    }
