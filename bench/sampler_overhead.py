"""What the admin-steered sampler costs per decision, next to the SDK's stock
ParentBased(TraceIdRatioBased) at the same ratio, in one run, printed as ratios.

    .venv/bin/python bench/sampler_overhead.py [--rounds 7] [--decisions 200000] [--rules 8]

Cases (each a should_sample() call with what the SDK passes it):
  root server span  a new trace, named as the Django instrumentation names it at its start
                    ('GET api/users/<int:user_id>'); our policy has --rules rules, of which
                    the last matches (name memo hit, as in a running process)
  root task span    'run/processing.process_job', a Celery span with no parent
  child span        a span whose local parent is sampled (most spans of a trace)
  remote child      the first span of a process continuing a sampled remote trace
  start+end span    a whole root span through a TracerProvider with no processor, to put
                    the decision's cost next to the cost of a span

The stock and our sampler alternate within every round (in alternating order), each ratio
is taken within its round, and the median and min-max over the rounds are printed, so drift
on a shared machine cancels out as far as it can. The policy snapshot is read as a running
process reads it: from memory, with the control poller already started.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")

import django  # noqa: E402

django.setup()

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio, Sampler  # noqa: E402
from opentelemetry.trace import (  # noqa: E402
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    TraceFlags,
)

from bench.harness import report  # noqa: E402
from bench.harness.rounds import ratio_summary  # noqa: E402
from telemetry.control import channels as control  # noqa: E402
from telemetry.sampling.policy import policy_channel  # noqa: E402
from telemetry.sampling.sampler import PolicySampler  # noqa: E402
from tests.telemetry.sampling.support import snapshot  # noqa: E402

RATIO = 0.1
SERVER_NAME = "GET api/users/<int:user_id>"
TASK_NAME = "run/processing.process_job"


def policy_with(rules: int):
    """A policy of `rules` rules (HTTP and task), the last of each kind matching."""
    http = [("http", rf"^GET /api/other{i}/\{{id\}}$", 0.5) for i in range(rules // 2 - 1)]
    task = [("task", rf"^processing\.other{i}$", 0.5) for i in range(rules - rules // 2 - 1)]
    return snapshot(
        1.0,
        *http,
        ("http", r"^GET /api/users/\{user_id\}$", RATIO),
        *task,
        ("task", r"^processing\.process_job$", RATIO),
    )


def parent_context(remote: bool):
    span_context = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=remote,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(NonRecordingSpan(span_context))


def decisions(sampler: Sampler, ids: list[int], name: str, kind, context) -> Callable[[], None]:
    should_sample = sampler.should_sample

    def run() -> None:
        for trace_id in ids:
            should_sample(context, trace_id, name, kind)

    return run


def whole_spans(sampler: Sampler, count: int) -> Callable[[], None]:
    tracer = TracerProvider(sampler=sampler).get_tracer("bench")

    def run() -> None:
        for _ in range(count):
            tracer.start_span(SERVER_NAME, kind=SpanKind.SERVER).end()

    return run


def timed(run: Callable[[], None], count: int) -> float:
    """Nanoseconds per call."""
    started = time.perf_counter_ns()
    run()
    return (time.perf_counter_ns() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--rules", type=int, default=8)
    args = parser.parse_args()

    # As in a running process: the poller is up (it started with the first request), so a
    # snapshot read is a pid check and an attribute read. It must not reload from a database.
    control._poller_pid = os.getpid()
    policy_channel.reset(policy_with(max(2, args.rules)))
    stock: Sampler = ParentBasedTraceIdRatio(RATIO)
    ours: Sampler = PolicySampler()

    rng = random.Random(4)
    ids = [rng.getrandbits(128) for _ in range(args.decisions)]
    n, spans = args.decisions, args.decisions // 10
    cases: dict[str, tuple[Callable[[Sampler], Callable[[], None]], int]] = {
        "root server span": (lambda s: decisions(s, ids, SERVER_NAME, SpanKind.SERVER, None), n),
        "root task span": (lambda s: decisions(s, ids, TASK_NAME, SpanKind.CONSUMER, None), n),
        "child span": (
            lambda s: decisions(s, ids, "SELECT", SpanKind.CLIENT, parent_context(False)),
            n,
        ),
        "remote child": (
            lambda s: decisions(s, ids, TASK_NAME, SpanKind.CONSUMER, parent_context(True)),
            n,
        ),
        "start+end span": (lambda s: whole_spans(s, spans), spans),
    }
    # Both samplers must agree on what they keep: same ratio, same trace-id arithmetic.
    for trace_id in ids[:20000]:
        a = stock.should_sample(None, trace_id, SERVER_NAME, SpanKind.SERVER).decision
        b = ours.should_sample(None, trace_id, SERVER_NAME, SpanKind.SERVER).decision
        assert a == b, "the samplers disagree on a trace id"

    results: dict[str, dict[str, list[float]]] = {c: {"stock": [], "ours": []} for c in cases}
    for round_ in range(args.rounds):
        for case, (build, count) in cases.items():
            order = [("stock", stock), ("ours", ours)]
            if round_ % 2:
                order.reverse()
            for label, sampler in order:
                results[case][label].append(timed(build(sampler), count))

    print(
        f"sampler cost per call, {args.rounds} rounds x {n} decisions, ratio {RATIO}, "
        f"{args.rules} rules in our policy (python {sys.version.split()[0]})"
    )
    report.print_table(
        ["case", "stock ns", "ours ns", "ours/stock median (min-max)"],
        [
            [
                case,
                f"{statistics.median(by['stock']):.0f}",
                f"{statistics.median(by['ours']):.0f}",
                report.format_ratio(ratio_summary(by["ours"], by["stock"], cost=False), 2),
            ]
            for case, by in results.items()
        ],
    )


if __name__ == "__main__":
    main()
