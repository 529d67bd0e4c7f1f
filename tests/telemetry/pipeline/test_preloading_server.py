"""A server that imports the app and then forks its workers (gunicorn --preload; uWSGI
without lazy-apps) cannot use the telemetry its parent set up: the parent's exporters (a gRPC
channel) do not survive fork. Each worker says so once, names the fix, exports nothing, and
serves as usual."""

from __future__ import annotations

import httpx
import pytest

from tests.harness.collector import otlp_env
from tests.harness.servers import BIN, free_port, start_process, wait_until_serving
from tests.harness.telemetry_fixtures import new_traceparent

pytestmark = pytest.mark.e2e


def test_workers_of_a_preloading_server_say_they_export_nothing(collector, stack):
    port = free_port()
    env = {**stack.env, **otlp_env(collector), "PORT": str(port), "GUNICORN_WORKERS": "2"}
    web = start_process(
        "web-preload",
        [
            str(BIN / "gunicorn"),
            *("-c", "observability_site/gunicorn.conf.py", "--preload"),
            "observability_site.wsgi",
        ],
        env,
        stack.log_dir,
    )
    stack.processes.append(web)
    wait_until_serving(f"http://127.0.0.1:{port}/health", web)
    trace_id, _, traceparent = new_traceparent()

    for _ in range(6):
        response = httpx.get(f"http://127.0.0.1:{port}/", headers={"traceparent": traceparent})
        assert response.status_code == 200
    web.stop()

    output = web.output()
    assert output.count("which then forked this process") == 2, output[-3000:]
    assert "gunicorn --preload" in output
    # Nothing reached the collector from the workers (the master served no request).
    received = collector.received()
    assert received.spans_in(trace_id) == []
    assert web.popen.pid not in {s["resource"]["process.parent_pid"] for s in received.spans}
