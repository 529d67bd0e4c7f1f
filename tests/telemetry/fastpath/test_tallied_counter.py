"""TalliedCounter.bound: a caller's running total for one attribute set is the series that
add() with those attributes keeps, and a bound total of dropped items still reports them;
the server-span middleware counts in flight on a bound total, or on an SDK counter."""

from __future__ import annotations

import logging
import threading

from telemetry.fastpath.tallied_metrics import TalliedCounter

GET = {"http.request.method": "GET", "url.scheme": "http"}


def observed(counter: TalliedCounter) -> list[tuple[int, dict]]:
    return sorted(
        ((o.value, dict(o.attributes or {})) for o in counter.observe(None)),  # type: ignore[arg-type]
        key=lambda pair: sorted(pair[1].items()),
    )


def test_a_bound_total_and_add_keep_one_series():
    counter = TalliedCounter("http.server.active_requests")
    counter.add(2, dict(GET))
    in_flight = counter.bound(GET)
    in_flight.add(1)
    in_flight.add(-1)
    in_flight.add(1)
    counter.add(1, {"http.request.method": "POST", "url.scheme": "http"})

    assert observed(counter) == [
        (3, GET),
        (1, {"http.request.method": "POST", "url.scheme": "http"}),
    ]


def test_a_total_bound_before_any_add_starts_at_zero():
    counter = TalliedCounter("http.server.active_requests")
    in_flight = counter.bound(GET)

    assert observed(counter) == [(0, GET)]
    in_flight.add(1)
    assert observed(counter) == [(1, GET)]


def test_threads_lose_no_count():
    counter = TalliedCounter("http.server.active_requests")
    in_flight = counter.bound(GET)

    def work():
        for _ in range(20_000):
            in_flight.add(1)
            in_flight.add(-1)
            in_flight.add(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert observed(counter) == [(80_000, GET)]


def test_a_bound_total_of_dropped_items_reports_them(caplog):
    counter = TalliedCounter("otel.sdk.processor.span.processed")
    dropped = counter.bound({"error.type": "queue_full"})

    with caplog.at_level(logging.WARNING, logger="telemetry.fastpath.tallied_metrics"):
        dropped.add(3)

    assert observed(counter) == [(3, {"error.type": "queue_full"})]
    assert "Queue full, dropping spans: 3 dropped" in caplog.text


def test_the_server_span_counts_in_flight_on_whichever_counter_it_was_given():
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from telemetry.fastpath.server_span import _request_basics

    reader = InMemoryMetricReader()
    sdk_counter = (
        MeterProvider(metric_readers=[reader])
        .get_meter("t")
        .create_up_down_counter("http.server.active_requests")
    )
    tallied = TalliedCounter("http.server.active_requests")
    for counter in (sdk_counter, tallied):
        *_, count_in_flight = _request_basics("GET", "http", "HTTP/1.1", counter)
        count_in_flight(1)
        count_in_flight(1)
        count_in_flight(-1)

    (metric,) = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
    (point,) = metric.data.data_points
    assert (point.value, dict(point.attributes)) == (1, GET)
    assert observed(tallied) == [(1, GET)]
