"""What encoding a batch of finished spans to OTLP costs per span: the official encoder
next to telemetry.fastpath.span_encoder, in one run, printed as ratios.

    flock /tmp/bench.lock .venv/bin/python bench/span_encoding.py [--rounds 9] [--batch 512]

Batches (real SDK spans from a TracerProvider):
  typical      Django server spans as the instrumentation makes them: 13 attributes whose
               values repeat from request to request (cache hits)
  distinct     the same shape with every value distinct (path, ids, ports, user agent),
               and the caches emptied before each run: every attribute pair is a miss

Columns (microseconds per span):
  official     official encode_spans(...).SerializeToString(), what both exporters pay
  grpc         fast encode_spans(...) (bytes parsed back into the message) and
               SerializeToString(), what GrpcSpanExporter pays
  http         fast encode_spans_to_bytes(...), what HttpSpanExporter pays

The cases alternate within every round; each ratio is taken within its round and the
median and min-max over the rounds are printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as official_encode_spans,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from bench.harness import encoders
from telemetry.fastpath import span_encoder as span_encoding


def server_span_attributes(index: int, distinct: bool) -> dict:
    n = index if distinct else 0
    return {
        "http.request.method": "GET",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "server.address": "127.0.0.1",
        "server.port": 8000,
        "url.path": f"/api/users/{n}" if distinct else "/",
        "user_agent.original": f"wrk/{n}" if distinct else "wrk",
        "client.address": f"10.0.{n // 256 % 256}.{n % 256}" if distinct else "127.0.0.1",
        "client.port": 40000 + n,
        "network.peer.address": f"10.1.{n // 256 % 256}.{n % 256}" if distinct else "127.0.0.1",
        "network.peer.port": 30000 + n,
        "http.route": "/api/users/<int:user_id>" if distinct else "/",
        "http.response.status_code": 200,
    }


def server_spans(count: int, distinct: bool) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("opentelemetry.instrumentation.django", "0.66b1")
    for index in range(count):
        name = f"GET /api/users/{index}" if distinct else "GET /"
        attributes = server_span_attributes(index, distinct)
        tracer.start_span(name, kind=SpanKind.SERVER, attributes=attributes).end()
    return list(exporter.get_finished_spans())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5, help="runs per case per round (best kept)")
    args = parser.parse_args()

    batches = {
        "typical": server_spans(args.batch, False),
        "distinct": server_spans(args.batch, True),
    }
    for spans in batches.values():  # the fast encoder must say the same before it is timed
        assert span_encoding.encode_spans(spans) == official_encode_spans(spans)
    results = encoders.compare(
        batches,
        lambda spans: {
            "official": lambda: official_encode_spans(spans).SerializeToString(),
            "grpc": lambda: span_encoding.encode_spans(spans).SerializeToString(),
            "http": lambda: span_encoding.encode_spans_to_bytes(spans),
        },
        cold={"distinct"},
        clear=span_encoding.clear_caches,
        rounds=args.rounds,
        repeat=args.repeat,
    )
    size = len(span_encoding.encode_spans_to_bytes(batches["typical"])) / args.batch
    print(f"batch of {args.batch} spans, {args.rounds} rounds; a typical span is {size:.0f} bytes")
    encoders.print_comparison(results)


if __name__ == "__main__":
    main()
