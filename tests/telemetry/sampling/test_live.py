"""The sampling policy steered live from the admin, observed at a real OTLP collector
(rotel-agent): gunicorn with 2 workers and a prefork Celery worker (2 pool processes) obey
each edit made through the admin (as an admin user, over HTTP, with the CSRF token) within
5 seconds, without a restart. A kept request's Celery jobs are kept, a dropped one's are
not, and switching trace export off silences every process."""

from __future__ import annotations

import re
import time
from collections import Counter

import httpx
import pytest

from tests.harness.collector import Collector, Received, otlp_env
from tests.harness.jobs import wait_for_job
from tests.harness.servers import Stack, admin_session, login_token
from tests.harness.telemetry_fixtures import new_traceparent

pytestmark = pytest.mark.e2e


PROPAGATION_LIMIT = 5.0  # seconds: the bound for an edit to reach every process
USER = "GET /api/users/{user_id}"  # tagged requests: the path carries phase and time
PHASES = {"drop": 1, "half": 2}
JOBS = 14  # at 0.5, all kept or all dropped once in 8192 runs
ADMIN = "/admin/telemetry/samplingpolicy/"


def admin_client(stack: Stack, base_url: str) -> tuple[httpx.Client, str]:
    """A superuser logged in to the admin through its login form, and an API token of his."""
    client, email, password = admin_session(stack, base_url)
    return client, login_token(base_url, email, password)


def save_policy(client: httpx.Client, rules: list[tuple[str, str, float]], **fields) -> float:
    """Submit the policy form (add, or change the one policy), with `rules` as
    (kind, pattern, ratio); return the monotonic time the admin answered."""
    # The changelist sends the admin to the one policy's page, or to the add form.
    listing = client.get(ADMIN)
    existing = re.search(rf"{ADMIN}(\d+)/change/", listing.headers.get("location", ""))
    url = f"{ADMIN}{existing.group(1)}/change/" if existing else f"{ADMIN}add/"
    page = client.get(url).text
    rule_ids = re.findall(r'name="rules-\d+-id" value="(\d+)"', page)
    data = {
        "csrfmiddlewaretoken": re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1],
        "default_ratio": "1",
        "force_header_name": "X-Force-Trace",
        "force_header_value": "",
        "export_traces": "on",
        "export_metrics": "on",
        "export_logs": "on",
        "rules-TOTAL_FORMS": str(max(len(rules), len(rule_ids))),
        "rules-INITIAL_FORMS": str(len(rule_ids)),
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i in range(max(len(rules), len(rule_ids))):
        if i < len(rule_ids):
            data[f"rules-{i}-id"] = rule_ids[i]
            data[f"rules-{i}-policy"] = existing.group(1)
        if i < len(rules):
            kind, pattern, ratio = rules[i]
            row = {"position": i, "kind": kind, "pattern": pattern, "ratio": ratio}
            data.update({f"rules-{i}-{k}": str(v) for k, v in row.items()})
            data[f"rules-{i}-enabled"] = "on"
        else:
            data[f"rules-{i}-DELETE"] = "on"
    response = client.post(url, data=data, headers={"Referer": str(client.base_url) + url})
    assert response.status_code == 302, response.text[:3000]
    return time.monotonic()


def tagged_requests(
    base_url: str,
    token: str,
    phase: str,
    since: float,
    until: float,
    at_least: int = 0,
    from_ms: int = 0,
) -> list[int]:
    """GET /api/users until `until` seconds after `since`, and on until at least `at_least`
    were sent `from_ms` or more after it (a count, not a time window: a loaded machine sends
    fewer per second), each on a new connection (so both gunicorn workers serve them),
    tagged with the phase and the milliseconds since the policy was saved; returns the tags
    sent."""
    sent: list[int] = []
    stop = since + until
    while time.monotonic() < stop or len([t for t in sent if t >= from_ms]) < at_least:
        elapsed_ms = int((time.monotonic() - since) * 1000)
        # The query string reaches the collector without its values; the path is whole.
        response = httpx.get(
            f"{base_url}/api/users/{PHASES[phase] * 1_000_000 + elapsed_ms}",
            headers={"Authorization": f"Token {token}"},
            timeout=10,
        )
        assert response.status_code in (200, 404), response.text
        sent.append(elapsed_ms)
    return sent


def settle(collector: Collector, base_url: str, token: str) -> Received:
    """Wait until what the service processes kept so far has reached the collector: sampled
    traceparents are kept whatever the policy, and each process exports in order. Sentinels
    go on (on new connections) until both gunicorn workers have answered some: which worker
    accepts a connection is the kernel's choice, and a busy machine can favour one."""
    ids: list[str] = []
    deadline = time.monotonic() + 30
    while True:
        for _ in range(8):
            trace_id, _, traceparent = new_traceparent()
            ids.append(trace_id)
            httpx.get(
                f"{base_url}/api/users",
                headers={"Authorization": f"Token {token}", "traceparent": traceparent},
                timeout=10,
            )
        received = collector.wait_for(
            "the sentinel requests", lambda r: all(r.spans_in(t) for t in ids)
        )
        workers = {
            span["resource"]["service.instance.id"]
            for t in ids
            for span in received.spans_in(t)
            if span["kind"] == "SPAN_KIND_SERVER"
        }
        if len(workers) >= 2 or time.monotonic() > deadline:
            break
    time.sleep(0.6)  # a worker that served no sentinel flushes within its 200 ms batch delay
    return collector.received()


def kept_by_worker(received: Received, phase: str) -> list[tuple[int, str]]:
    """(ms after the save, web worker instance) of the kept tagged requests of `phase`."""
    kept = []
    for span in received.spans:
        if span["name"] == USER:
            tag = int(str(span["attributes"]["url.path"]).rpartition("/")[2])
            code, elapsed_ms = divmod(tag, 1_000_000)
            if code == PHASES[phase]:
                kept.append((elapsed_ms, span["resource"]["service.instance.id"][:8]))
    return sorted(kept)


def kept_times(received: Received, phase: str) -> list[int]:
    """The times (ms after the save) of the kept tagged requests of `phase`."""
    return [elapsed_ms for elapsed_ms, _ in kept_by_worker(received, phase)]


def test_admin_edits_steer_sampling_in_every_process_within_5_seconds(collector, stack):
    stack.env.update(otlp_env(collector), API_THROTTLE_USER="100000/min")
    base_url = stack.start_web(GUNICORN_WORKERS="2")
    stack.start_worker(concurrency=2)
    admin, token = admin_client(stack, base_url)
    limit_ms = PROPAGATION_LIMIT * 1000

    # 1. No policy row yet (OTEL_TRACES_SAMPLER: parentbased_always_on), then a rule that
    # drops GET /api/users/{user_id}: nothing of it is kept from 5 s after the save on.
    saved = save_policy(admin, [("http", r"^GET /api/users/\{user_id\}$", 0.0)])
    sent = tagged_requests(
        base_url, token, "drop", saved, PROPAGATION_LIMIT + 1.0, at_least=10, from_ms=limit_ms
    )
    received = settle(collector, base_url, token)
    kept = kept_times(received, "drop")
    late = [t for t in kept if t >= limit_ms]
    assert not late, f"kept {len(late)} requests sent 5 s or more after the edit: {late}"
    assert len([t for t in sent if t >= limit_ms]) >= 10
    print(f"drop: {len(sent)} requests, last kept {kept[-1] if kept else None} ms after the save")
    web_spans = [s for s in received.spans if s["name"].startswith("GET /api/users")]
    instances = {s["resource"]["service.instance.id"] for s in web_spans}
    assert len(instances) >= 2, "both gunicorn workers must have served requests"

    # 2. The same rule at 0.5, and jobs at 0.5: the kept share follows, and a job's spans in
    # the worker are kept exactly when the request that queued it was.
    saved = save_policy(
        admin, [("http", r"^GET /api/users/\{user_id\}$", 0.5), ("http", r"^POST /api/jobs$", 0.5)]
    )
    # The jobs are queued once both web workers have polled (1 s), and run meanwhile.
    sent = tagged_requests(base_url, token, "half", saved, 2.0)
    api = httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=15)
    jobs = []
    for i in range(JOBS):
        response = api.post("/api/jobs", json={"data": f"sampled or not {i}"})
        assert response.status_code == 202, response.text
        jobs.append(response.json())
    sent += tagged_requests(base_url, token, "half", saved, PROPAGATION_LIMIT)
    sent += tagged_requests(base_url, token, "half", saved, PROPAGATION_LIMIT, at_least=80)
    for job in jobs:
        assert wait_for_job(api, job["url"])["status"] == "succeeded", stack.logs()
    received = settle(collector, base_url, token)
    kept = kept_times(received, "half")
    late_instances = Counter(
        worker for t, worker in kept_by_worker(received, "half") if t >= limit_ms
    )
    assert kept and kept[0] < limit_ms, kept[:1]
    late_sent = len([t for t in sent if t >= limit_ms])
    late_kept = len([t for t in kept if t >= limit_ms])
    assert late_sent >= 80 and 0.3 <= late_kept / late_sent <= 0.7, (late_kept, late_sent)
    print(
        f"half: {len(sent)} requests, first kept {kept[0]} ms after the save, "
        f"{late_kept}/{late_sent} kept from 5 s on, by web worker: {dict(late_instances)}"
    )

    by_trace = {job["trace_id"]: set() for job in jobs}
    for span in received.spans:
        if span["trace_id"] in by_trace:
            by_trace[span["trace_id"]].add(span["name"])
    kept_jobs = [t for t, names in by_trace.items() if "POST /api/jobs" in names]
    assert 0 < len(kept_jobs) < len(jobs), f"{JOBS} jobs at 0.5: some kept, some dropped"
    for names in by_trace.values():
        if "POST /api/jobs" in names:
            assert {"run/processing.process_job", "run/processing.complete_job"} <= names
        else:
            assert not names, f"a dropped request's job left spans: {names}"

    # 3. Trace export off: from 5 s on, no process sends spans, even of kept traces.
    saved = save_policy(admin, [], export_traces="")
    time.sleep(max(0.0, PROPAGATION_LIMIT - (time.monotonic() - saved)))
    silent, urls = [], []
    for i in range(3):
        trace_id, _, traceparent = new_traceparent()  # sampled: kept, but not exported
        response = api.post(
            "/api/jobs", json={"data": f"not exported {i}"}, headers={"traceparent": traceparent}
        )
        assert response.status_code == 202, response.text
        silent.append(trace_id)
        urls.append(response.json()["url"])
    for url in urls:
        assert wait_for_job(api, url)["status"] == "succeeded", stack.logs()
    time.sleep(1.5)  # several batch delays (200 ms) of every process
    assert not [s for s in collector.received().spans if s["trace_id"] in silent]
    page = admin.get(ADMIN, follow_redirects=True).text  # the listing opens the policy
    assert "export off: traces" in page  # the policy in force, as the admin shows it
