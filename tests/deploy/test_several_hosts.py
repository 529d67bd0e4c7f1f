"""The service on several hosts, built on this machine (tests/harness/several_hosts.py): two
web hosts behind HAProxy, a worker host, Redis on a data host, PostgreSQL through a relay,
a rotel agent on every service host forwarding to a gateway collector, and Prometheus.

What the hosts must show together: one trace crossing the load balancer, web host A, the
worker and web host B, assembled at the gateway; a sampling edit made on A obeyed by B and
the worker within 5 s; Prometheus adding up what both web hosts served; and web host A
killed mid-load, the load balancer moving to B while every accepted job finishes once.

The hosts are built once for the module; the test that kills host A runs last (a test
after it gets a new set of hosts).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import psycopg
import pytest
import redis
from opentelemetry.instrumentation.utils import suppress_instrumentation

from tests.harness import several_hosts as harness
from tests.harness.collector import Received, spans_named, start_seconds
from tests.harness.haproxy import SERVED_BY
from tests.harness.jobs import wait_for_job
from tests.harness.log_lines import json_records
from tests.harness.prometheus import OTEL_JOB, query
from tests.harness.servers import admin_session, api_token
from tests.harness.telemetry_fixtures import new_traceparent

pytestmark = pytest.mark.e2e

PROPAGATION_LIMIT = 5.0  # seconds: the bound for an edit on one host to reach all
ADMIN = "/admin/telemetry/samplingpolicy/"
# The new traces of the sampling test: a request served by web-b, a task run by the worker.
B_PROBE = "GET /api/jobs/{job_id}"
TASK_PROBE = "run/processing.process_job"


class Cluster:
    """The hosts of this module, rebuilt when a test used them up (killed a host)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._factory = tmp_path_factory
        self._context: contextlib.AbstractContextManager[harness.SeveralHosts] | None = None
        self.hosts: harness.SeveralHosts | None = None
        self.token = ""
        self.spent = False

    def get(self) -> harness.SeveralHosts:
        if self.hosts is None or self.spent:
            self.close()
            context = harness.several_hosts(self._factory.mktemp("hosts"))
            self.hosts = context.__enter__()  # a failed build removed what it made
            self._context = context
            self.token = api_token(self.hosts.lb.url, self.hosts.stack)
            self.spent = False
        return self.hosts

    def close(self) -> None:
        if self._context is not None:
            context, self._context, self.hosts = self._context, None, None
            context.__exit__(None, None, None)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    # Checked here, not at import: the check itself creates a namespace, and collecting the
    # fast tests (-m "not e2e") must start nothing.
    if reason := harness.unavailable_reason():
        pytest.skip(reason)
    # The test process may be instrumented (the in-process telemetry tests set it up once per
    # run): its clients must not add trace context of their own to what the hosts receive.
    with suppress_instrumentation():
        built = Cluster(tmp_path_factory)
        try:
            yield built
        finally:
            built.close()


@pytest.fixture
def hosts(cluster, request) -> Iterator[harness.SeveralHosts]:
    started = time.monotonic()
    hosts = cluster.get()
    if time.monotonic() - started > 1:
        print(f"hosts built in {time.monotonic() - started:.1f}s: {hosts.timings}")
    failed_before = request.session.testsfailed
    yield hosts
    if request.session.testsfailed > failed_before:
        print(hosts.logs())  # shown by pytest with the failure


@pytest.fixture
def api(cluster, hosts) -> Iterator[httpx.Client]:
    """A staff user's API client through the load balancer."""
    with httpx.Client(
        base_url=hosts.lb.url, headers={"Authorization": f"Token {cluster.token}"}, timeout=30
    ) as client:
        yield client


def test_one_trace_crosses_the_balancer_web_host_a_the_worker_and_web_host_b(hosts, api):
    # Round robin: the first or the second job goes to web host A.
    for _ in range(4):
        trace_id, client_span_id, traceparent = new_traceparent()
        response = api.post(
            "/api/jobs", json={"data": "across hosts"}, headers={"traceparent": traceparent}
        )
        assert response.status_code == 202, response.text
        if response.headers[SERVED_BY] == "web-a":
            break
    assert response.headers[SERVED_BY] == "web-a", "HAProxy never chose web host A"
    job = wait_for_job(api, response.json()["url"])
    assert job["status"] == "succeeded", hosts.logs()
    assert job["trace_id"] == trace_id

    expected = {
        "POST /api/jobs",
        "run/processing.process_job",
        "run/processing.complete_job",
        "POST /api/downstream/enrich",
    }
    received = hosts.gateway.wait_for(
        "the job's trace from web-a, the worker and web-b",
        lambda r: expected <= {s["name"] for s in r.spans_in(trace_id)},
    )
    spans = received.spans_in(trace_id)
    [request] = spans_named(spans, "POST /api/jobs")
    [job_run] = spans_named(spans, "run/processing.process_job")
    [downstream] = spans_named(spans, "POST /api/downstream/enrich")
    # Each part was served where it should be: the host's agent stamped host.name.
    assert request["resource"]["host.name"] == "web-a"
    assert job_run["resource"]["host.name"] == "worker"
    assert downstream["resource"]["host.name"] == "web-b"
    assert request["parent_id"] == client_span_id  # the client's span, through HAProxy
    assert request["kind"] == downstream["kind"] == "SPAN_KIND_SERVER"
    by_id = {s["span_id"]: s for s in spans}
    caller = by_id[downstream["parent_id"]]
    assert caller["kind"] == "SPAN_KIND_CLIENT" and caller["resource"]["host.name"] == "worker"
    # One trace: every span's parent arrived too, but the root's (the client's).
    orphans = [s["name"] for s in spans if s["parent_id"] not in by_id]
    assert orphans == ["POST /api/jobs"], orphans
    instances = {s["resource"]["service.instance.id"] for s in (request, job_run, downstream)}
    assert len(instances) == 3, instances
    assert {s["resource"]["service.name"] for s in spans} == {harness.SERVICE_NAME}
    assert {s["resource"]["host.name"] for s in spans} == {"web-a", "worker", "web-b"}
    print(f"trace {trace_id}: {len(spans)} spans from {len(instances)} instances on 3 hosts")


def test_prometheus_sums_the_requests_of_both_web_hosts(hosts, cluster):
    sent = 40
    served: Counter[str] = Counter()
    for i in range(sent):
        # A new connection each time: HAProxy and each host's two workers all take turns.
        response = httpx.get(
            f"{hosts.lb.url}/api/users/{900_000 + i}",
            headers={"Authorization": f"Token {cluster.token}"},
            timeout=15,
        )
        assert response.status_code == 404, response.text
        served[response.headers[SERVED_BY]] += 1
    assert served["web-a"] > 0 and served["web-b"] > 0, served

    host_of = {hosts.host(role).address: role for role in harness.WEB_HOSTS}
    counts = (
        f'http_server_request_duration_seconds_count{{job="{OTEL_JOB}",'
        f'http_route="/api/users/{{user_id}}"}}'
    )
    deadline = time.monotonic() + 60
    while True:
        by_host: Counter[str] = Counter()
        for series in query(hosts.prometheus_url, counts):
            address = series["metric"]["instance"].rpartition(":")[0]
            by_host[host_of[address]] += int(float(series["value"][1]))
        if sum(by_host.values()) >= sent or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    [total] = query(hosts.prometheus_url, f"sum({counts})")
    assert int(float(total["value"][1])) == sent, (by_host, served)
    assert by_host == served, "each host's share, as Prometheus scraped it, is what it served"
    up = query(hosts.prometheus_url, f'up{{job="{OTEL_JOB}"}}')
    assert len(up) == 4 and all(s["value"][1] == "1" for s in up), up
    print(f"Prometheus: {sent} requests sent, summed {dict(by_host)} over 4 scraped processes")


def save_policy_on(client: httpx.Client, **fields: str) -> float:
    """Add the sampling policy through the admin's form; time.time() when it answered."""
    page = client.get(f"{ADMIN}add/")
    assert page.status_code == 200, page.text[:2000]
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert csrf, page.text[:2000]
    data = {
        "csrfmiddlewaretoken": csrf[1],
        "default_ratio": "1",
        "force_header_name": "X-Force-Trace",
        "force_header_value": "",
        "export_traces": "on",
        "export_metrics": "on",
        "export_logs": "on",
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
        **fields,
    }
    referer = f"{client.base_url}{ADMIN}add/"
    response = client.post(f"{ADMIN}add/", data=data, headers={"Referer": referer})
    assert response.status_code == 302, response.text[:3000]
    return time.time()


def _probe_requests(url: str, token: str, stop: threading.Event, sent: list[float]) -> None:
    with suppress_instrumentation():
        while not stop.is_set():
            sent.append(time.time())
            # A new connection each time, so both of B's gunicorn workers get some.
            response = httpx.get(
                f"{url}/api/jobs/{uuid.uuid4()}",
                headers={"Authorization": f"Token {token}"},
                timeout=15,
            )
            assert response.status_code == 404, response.text
            time.sleep(0.05)


def _probe_tasks(hosts: harness.SeveralHosts, stop: threading.Event, sent: list[float]) -> None:
    while not stop.is_set():
        sent.append(time.time())
        # A job that does not exist: the task starts a trace, finds nothing and stops.
        hosts.send_untraced_task("processing.process_job", job_id=str(uuid.uuid4()))
        time.sleep(0.1)


def _roots(received: Received, host: str, name: str) -> list[dict]:
    return [
        s
        for s in spans_named(received.spans, name)
        if s["resource"]["host.name"] == host and not s["parent_id"]
    ]


def _settle(hosts: harness.SeveralHosts, token: str) -> Received:
    """Wait until what B and the worker kept has reached the gateway: a sampled request to B
    arrives (its traceparent decides, whatever the ratio), then nothing more for 2 s."""
    trace_id, _, traceparent = new_traceparent()
    httpx.get(
        f"{hosts.web_url('web-b')}/api/jobs/{uuid.uuid4()}",
        headers={"Authorization": f"Token {token}", "traceparent": traceparent},
        timeout=15,
    )
    hosts.gateway.wait_for("the sentinel request on web-b", lambda r: bool(r.spans_in(trace_id)))
    size, quiet_since, deadline = -1, time.monotonic(), time.monotonic() + 30
    while time.monotonic() - quiet_since < 2 and time.monotonic() < deadline:
        if (now := len(hosts.gateway.output())) != size:
            size, quiet_since = now, time.monotonic()
        time.sleep(0.2)
    return hosts.gateway.received()


def test_a_sampling_edit_on_web_host_a_is_obeyed_by_web_host_b_and_the_worker_in_5_s(
    hosts, cluster
):
    # Through A's own admin, over HTTP, as an operator would.
    admin, _, _ = admin_session(hosts.stack, hosts.web_url("web-a"))
    stop = threading.Event()
    request_times: list[float] = []
    task_times: list[float] = []
    probes = [
        threading.Thread(
            target=_probe_requests,
            args=(hosts.web_url("web-b"), cluster.token, stop, request_times),
        ),
        threading.Thread(target=_probe_tasks, args=(hosts, stop, task_times)),
    ]
    for probe in probes:
        probe.start()
    try:
        # Kept while there is no policy (OTEL_TRACES_SAMPLER: parentbased_always_on).
        hosts.gateway.wait_for(
            "new traces of web-b and the worker before the edit",
            lambda r: bool(_roots(r, "web-b", B_PROBE) and _roots(r, "worker", TASK_PROBE)),
            timeout=60,
        )
        # Every new trace dropped from now on: B's requests and the worker's tasks start
        # new traces, each decided by that process's own copy of the policy.
        saved = save_policy_on(admin, default_ratio="0")
        limit = saved + PROPAGATION_LIMIT
        # On for 2 s past the bound, and until each kind of probe went 10 times after it.
        deadline = time.monotonic() + 90
        while (
            time.time() < limit + 2
            or min(len([t for t in sent if t >= limit]) for sent in (request_times, task_times))
            < 10
        ):
            assert all(probe.is_alive() for probe in probes), "a probe failed"
            assert time.monotonic() < deadline, (len(request_times), len(task_times))
            time.sleep(0.1)
    finally:
        stop.set()
        for probe in probes:
            probe.join(30)
    received = _settle(hosts, cluster.token)
    # The edit travelled through the shared Redis, not through files: each host has a
    # DATA_DIR of its own, and none holds a control marker.
    control = redis.Redis.from_url(hosts.broker_url)
    assert control.get("telemetry:control:sampling:version") is not None
    assert not [d for d in hosts.data_dirs.values() if (d / "control").exists()]
    for host, name, sent in (
        ("web-b", B_PROBE, request_times),
        ("worker", TASK_PROBE, task_times),
    ):
        roots = _roots(received, host, name)
        assert [s for s in roots if start_seconds(s) < saved], f"{host} kept nothing before"
        late = [round(start_seconds(s) - saved, 2) for s in roots if start_seconds(s) >= limit]
        assert not late, f"{host} kept new traces started {late} s after the edit"
        last_kept: dict[str, float] = {}
        for span in (s for s in roots if start_seconds(s) >= sent[0]):  # this test's probes
            instance = span["resource"]["service.instance.id"][:8]
            last_kept[instance] = max(last_kept.get(instance, -99), start_seconds(span) - saved)
        print(
            f"{host}: {len(sent)} probes, {len([t for t in sent if t >= saved])} after the "
            f"edit; last kept new trace per process, s after the edit: "
            f"{ {k: round(v, 2) for k, v in sorted(last_kept.items())} }"
        )


def _job_rows(database_url: str) -> dict[str, tuple[str, int]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id, status, attempts FROM processing_processingjob").fetchall()
    return {str(job_id): (status, attempts) for job_id, status, attempts in rows}


def test_when_web_host_a_dies_mid_load_b_takes_over_and_every_accepted_job_finishes_once(
    hosts, cluster
):
    results: list[dict] = []
    stop = threading.Event()

    def client() -> None:
        with (
            suppress_instrumentation(),
            httpx.Client(
                base_url=hosts.lb.url,
                headers={"Authorization": f"Token {cluster.token}"},
                timeout=40,
            ) as api,
        ):
            while not stop.is_set():
                result: dict = {"sent": time.monotonic()}
                try:
                    response = api.post("/api/jobs", json={"data": f"load {uuid.uuid4()}"})
                    result.update(status=response.status_code, by=response.headers.get(SERVED_BY))
                    if response.status_code == 202:
                        result["job"] = response.json()["id"]
                except httpx.HTTPError as exc:
                    result["status"] = type(exc).__name__
                result["done"] = time.monotonic()
                results.append(result)
                time.sleep(0.15)

    before = set(_job_rows(hosts.stack.env["DATABASE_URL"]))
    clients = [threading.Thread(target=client) for _ in range(2)]
    for thread in clients:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while sum(r.get("by") == "web-a" and r["status"] == 202 for r in results) < 5:
            assert time.monotonic() < deadline, results[-5:]
            time.sleep(0.1)
        # Mid-load: if it can be caught, while A is serving a request.
        deadline = time.monotonic() + 5
        while not hosts.lb.requests_in_progress("web-a") and time.monotonic() < deadline:
            time.sleep(0.005)
        # The host dies: every process on it at once, then its link (nothing answers).
        killed_at = time.monotonic()
        cluster.spent = True
        killed = hosts.host("web-a").kill()
        hosts.host("web-a").disconnect()
        out_after = hosts.lb.wait_for_states({"web-a": "DOWN", "web-b": "UP"}, timeout=30)
        down_at = time.monotonic()
        # The load goes on, all on B: 3 s, and at least 10 requests sent after DOWN.
        deadline = down_at + 60
        while time.monotonic() < down_at + 3 or sum(r["sent"] > down_at for r in results) < 10:
            assert time.monotonic() < deadline, results[-5:]
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in clients:
            thread.join(60)

    timeline = [
        (round(r["sent"] - killed_at, 2), round(r["done"] - r["sent"], 2), r["status"], r.get("by"))
        for r in results
    ]
    print(
        f"kill at 0, web-a DOWN at {down_at - killed_at:.2f}: (sent, took, status, by) {timeline}"
    )
    accepted = [r for r in results if r["status"] == 202]
    refused = [r for r in results if r["status"] != 202]
    assert any(r["by"] == "web-a" for r in accepted) and any(r["by"] == "web-b" for r in accepted)
    after_down = [r for r in results if r["sent"] > down_at]
    assert len(after_down) >= 10, after_down
    assert all(r["status"] == 202 and r["by"] == "web-b" for r in after_down), after_down
    # Only requests under way while the host died, or sent before HAProxy took it out, failed;
    # none hung: at worst HAProxy's `timeout server` (35 s) ended one the dead host held.
    assert all(r["sent"] < down_at for r in refused), refused
    assert all(r["done"] - r["sent"] < 45 for r in refused), refused

    # Every accepted job reaches its end once, on the worker host, whichever host took it.
    jobs = {r["job"] for r in accepted}
    database_url = hosts.stack.env["DATABASE_URL"]
    deadline = time.monotonic() + 120
    while True:
        rows = _job_rows(database_url)
        pending = [j for j in jobs if rows.get(j, ("missing", 0))[0] not in ("succeeded", "failed")]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not pending, f"{len(pending)} accepted jobs never finished: {pending[:5]}"
    assert {rows[j] for j in jobs} == {("succeeded", 1)}, Counter(rows[j] for j in jobs)
    # The worker logs "job succeeded" just after the row's update commits: a moment later.
    deadline = time.monotonic() + 30
    while True:
        finished = Counter(
            record.get("job_id")
            for record in json_records(hosts.worker.output())
            if record.get("message") == "job succeeded"
        )
        if all(finished[j] for j in jobs) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert all(finished[j] == 1 for j in jobs), {j: finished[j] for j in jobs if finished[j] != 1}
    # Jobs A stored whose 202 never reached the client (A died in between): the client saw
    # an error and may send again; they are not "accepted", and are reported, not asserted.
    unanswered = {j: rows[j] for j in set(rows) - before - jobs}
    queue = hosts.stack.env["CELERY_TASK_DEFAULT_QUEUE"]
    left_in_queue = redis.Redis.from_url(hosts.broker_url).llen(queue)
    by_host = Counter(r["by"] for r in accepted)
    print(
        f"kill: {len(killed)} processes on web-a; HAProxy had it DOWN {out_after:.1f}s later; "
        f"{len(results)} requests: {len(accepted)} accepted {dict(by_host)}, "
        f"{len(refused)} failed {dict(Counter(str(r['status']) for r in refused))}, "
        f"{len(after_down)} after DOWN all on web-b; {len(jobs)} jobs succeeded once each; "
        f"stored but unanswered: {unanswered} ({left_in_queue} messages left in the queue); "
        f"failures (sent s after the kill, took s): "
        f"{[(round(r['sent'] - killed_at, 2), round(r['done'] - r['sent'], 2)) for r in refused]}"
    )
