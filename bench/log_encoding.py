"""What encoding a batch of log records to OTLP costs per record: the official encoder next to
telemetry.fastpath.log_encoder, in one run, printed as ratios.

    flock /tmp/bench.lock .venv/bin/python bench/log_encoding.py [--rounds 9] [--batch 512]

Batches (real records, written by Python logging through the OTLP LoggingHandler into an
SDK LoggerProvider, inside a sampled span):
  worker       what a Celery job logs, in turn: "processing data" (an int extra), "job
               succeeded" (the job id) and Celery's "Task ... succeeded in ...s" with its
               nested `data` dict; ids and run times distinct per job, as they are
  cold         the same records with the caches emptied before each run

Columns (microseconds per record):
  official     official encode_logs(...).SerializeToString(), what both exporters pay
  grpc         fast encode_logs(...) (bytes parsed back into the message) and
               SerializeToString(), what GrpcLogExporter pays
  http         fast encode_logs_to_bytes(...), what HttpLogExporter pays

The cases alternate within every round; each ratio is taken within its round and the
median and min-max over the rounds are printed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry.exporter.otlp.proto.common._log_encoder import (
    encode_logs as official_encode_logs,
)
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from bench.harness import encoders
from telemetry.fastpath import log_encoder, otlp_wire


def worker_records(count: int) -> list[ReadableLogRecord]:
    """`count` records as a worker logs them, three per job."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "bench-worker"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = LoggingHandler(logger_provider=provider)
    loggers = [logging.getLogger(name) for name in ("processing.services", "celery.app.trace")]
    for logger in loggers:
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO)
    services, celery_trace = loggers
    tracer = TracerProvider().get_tracer("opentelemetry.instrumentation.celery")
    for job in range((count + 2) // 3):
        task_id = str(uuid.UUID(int=job))
        runtime = 0.01 + job * 1e-6
        with tracer.start_as_current_span("run/processing.process_job"):
            services.info("processing data", extra={"data_chars": 5 + job % 7})
            services.info("job succeeded", extra={"job_id": str(job)})
            celery_trace.info(
                "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
                {
                    "name": "processing.process_job",
                    "id": task_id,
                    "runtime": runtime,
                    "return_value": None,
                },
                extra={
                    "data": {
                        "id": task_id,
                        "name": "processing.process_job",
                        "return_value": "None",
                        "runtime": runtime,
                        "args": f"({job},)",
                        "kwargs": "{}",
                    }
                },
            )
    for logger in loggers:
        logger.handlers.clear()
    return list(exporter.get_finished_logs())[:count]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5, help="runs per case per round (best kept)")
    args = parser.parse_args(argv)

    records = worker_records(args.batch)
    # The fast encoder must say the same before it is timed.
    assert log_encoder.encode_logs(records) == official_encode_logs(records)
    results = encoders.compare(
        {"worker": records, "cold": records},
        lambda batch: {
            "official": lambda: official_encode_logs(batch).SerializeToString(),
            "grpc": lambda: log_encoder.encode_logs(batch).SerializeToString(),
            "http": lambda: log_encoder.encode_logs_to_bytes(batch),
        },
        cold={"cold"},
        clear=otlp_wire.clear_caches,
        rounds=args.rounds,
        repeat=args.repeat,
    )
    size = len(log_encoder.encode_logs_to_bytes(records)) / len(records)
    print(f"batch of {len(records)} records, {args.rounds} rounds; a record is {size:.0f} bytes")
    encoders.print_comparison(results)


if __name__ == "__main__":
    main()
