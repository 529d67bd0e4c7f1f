"""bench/overhead.py's parsing and summary helpers, on canned wrk output (no load, no server):
the wrk parser and the ratios by round live in bench.harness, shared by every benchmark."""

from __future__ import annotations

import pytest

from bench import overhead, overhead_in_process, overhead_modes
from bench.harness.load import parse_wrk
from bench.harness.rounds import summarize

WRK_OUTPUT = """Running 8s test @ http://127.0.0.1:40000/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.90ms    2.10ms  40.12ms   90.00%
    Req/Sec     1.62k   100.00     1.80k    70.00%
  Latency Distribution
     50%  812.00us
     75%    5.50ms
     90%    7.00ms
     99%    1.02s
  12960 requests in 8.00s, 5.00MB read
Requests/sec:   1619.50
Transfer/sec:    640.00KB
"""


def test_parse_wrk_converts_every_latency_unit_to_milliseconds():
    sample = parse_wrk(WRK_OUTPUT)
    assert sample.rps == 1619.5
    assert sample.requests == 12960
    assert sample.p50_ms == pytest.approx(0.812)
    assert sample.p99_ms == pytest.approx(1020.0)
    assert sample.errors == 0


def test_parse_wrk_counts_errors_and_socket_errors():
    output = WRK_OUTPUT.replace(
        "Requests/sec",
        "  Socket errors: connect 0, read 2, write 0, timeout 3\n"
        "  Non-2xx or 3xx responses: 5\nRequests/sec",
    )
    assert parse_wrk(output).errors == 10


def test_parse_wrk_rejects_other_output():
    with pytest.raises(ValueError):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_ratios_are_taken_against_the_baseline_of_the_same_round():
    def run(round_: int, mode: str, rps: float, p99: float, cpu: float = 1.0) -> dict:
        return {"round": round_, "mode": mode, "endpoint": "GET /", "rps": rps, "p50_ms": 1.0,
                "p99_ms": p99, "cpu_ms": cpu}  # fmt: skip

    results = [
        run(1, "off", 100, 10),
        run(1, "full 100%", 90, 15, cpu=1.25),
        run(2, "off", 50, 20),  # a busier machine in round 2: the ratio still holds
        run(2, "full 100%", 40, 20),
    ]
    summary = summarize(
        results,
        ["off", "full 100%"],
        baseline="off",
        medians=overhead.MEDIANS,
        ratios=overhead.RATIOS,
        group="endpoint",
    )
    full = summary["full 100%"]["GET /"]
    assert full["ratio"] == pytest.approx(0.85)
    assert (full["ratio_min"], full["ratio_max"]) == pytest.approx((0.8, 0.9))
    assert full["p99_ratio"] == pytest.approx(1.25)
    assert full["cpu_ratio"] == pytest.approx((0.8 + 1.0) / 2)
    assert summary["off"]["GET /"]["ratio"] == 1.0


def test_with_a_baseline_tree_every_telemetry_mode_gets_a_twin_after_it():
    order = overhead_modes.run_order(["off", "full 100%", "collector down"], baseline_tree=True)
    assert order == [
        "off",
        "full 100%",
        "full 100% @baseline",
        "collector down",
        "collector down @baseline",
    ]
    assert overhead_modes.mode_environment("full 1% @baseline") == overhead_modes.MODES["full 1%"]
    assert overhead_modes.run_order(["full 1%"], baseline_tree=False) == ["off", "full 1%"]


def test_in_process_summary_takes_the_least_cpu_of_each_mode_against_offs_least():
    results = [
        {"round": n, "mode": mode, "endpoint": "GET /", "cpu_us": cpu}
        for n, mode, cpu in [
            (1, "off", 500.0),
            (2, "off", 400.0),
            (1, "full 1%", 520.0),
            (2, "full 1%", 800.0),
        ]
    ]
    summary = overhead_in_process.summarize_in_process(results, ["off", "full 1%"])
    assert summary["full 1%"]["GET /"]["cpu_us_min"] == 520.0
    assert summary["full 1%"]["GET /"]["cpu_us_median"] == 660.0
    assert summary["full 1%"]["GET /"]["cpu_ratio"] == pytest.approx(400 / 520)


def test_the_in_process_environ_is_a_wsgi_request_with_the_token_and_body():
    environ = overhead_in_process.wsgi_environ("POST /api/process", "abc")
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["PATH_INFO"] == "/api/process"
    assert environ["HTTP_AUTHORIZATION"] == "Token abc"
    body = environ["wsgi.input"].read()
    assert int(environ["CONTENT_LENGTH"]) == len(body)
    assert b"quick brown fox" in body


def test_the_worker_benchmark_refuses_a_broker_other_than_redis(monkeypatch, capsys):
    monkeypatch.setenv("CELERY_BROKER_URL", "filesystem://")
    with pytest.raises(SystemExit) as exited:
        overhead.parse_args(["--worker"])
    assert exited.value.code == 2
    assert "CELERY_BROKER_URL=redis://" in capsys.readouterr().err
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/4")
    args = overhead.parse_args(["--worker"])
    assert args.output.name == "overhead-worker.json"
    assert args.jobs == 200 and args.warmup_jobs == 20


def test_the_stock_modes_start_the_stock_set_up_and_have_no_baseline_twin(tmp_path):
    assert overhead_modes.run_order(["stock 100%", "full 1%"], baseline_tree=True) == [
        "off",
        "stock 100%",
        "full 1%",
        "full 1% @baseline",
    ]
    stock_web = overhead_modes.web_options("stock 100%", tmp_path)
    assert stock_web == {"config": str(overhead_modes.STOCK_GUNICORN_CONFIG)}
    assert overhead_modes.STOCK_GUNICORN_CONFIG.is_file()
    assert overhead_modes.worker_options("stock 1%", None) == {"app": "bench.stock_otel.celery_app"}
    assert overhead_modes.web_options("full 1% @baseline", tmp_path) == {"tree": tmp_path}
    assert overhead_modes.worker_options("full 1%", tmp_path) == {"tree": overhead_modes.ROOT}
    # Same collector and sampling as ours; the local store mode is full 100% plus its switch.
    assert overhead_modes.MODES["stock 1%"] == overhead_modes.MODES["full 1%"]
    local = overhead_modes.MODES["local store on"]
    assert local == {**overhead_modes.MODES["full 100%"], "TELEMETRY_LOCAL_STORE": "on"}
