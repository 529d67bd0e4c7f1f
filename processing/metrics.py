"""Business metrics of the processing app, through the OpenTelemetry API only.

The instruments are created at import and record nothing until the process has a meter
provider (set up by the platform), so this module works, and costs nothing, without one.
"""

from __future__ import annotations

from opentelemetry import metrics

_meter = metrics.get_meter("processing")

# Seconds, from a fast job (tens of ms) to one that waited behind a backlog.
_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

jobs_queued = _meter.create_counter(
    "processing.jobs.queued",
    unit="{job}",
    description="Jobs accepted and handed to the broker.",
)
jobs_finished = _meter.create_counter(
    "processing.jobs.finished",
    unit="{job}",
    description="Jobs that reached a final state, by outcome (succeeded, failed).",
)
job_duration = _meter.create_histogram(
    "processing.job.duration",
    unit="s",
    description="From the first attempt's start to the final state, retries included.",
    explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
)
job_queue_wait = _meter.create_histogram(
    "processing.job.queue_wait",
    unit="s",
    description="From queued to the first attempt's start.",
    explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
)
