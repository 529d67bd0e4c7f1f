"""Counters that add up in memory and are reported at collection, for the measurements made
on every request or span, where a synchronous SDK measurement costs too much; and the meters
that hand out those counters and the histograms of telemetry.fastpath.tallied_histogram."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from telemetry.fastpath.tallied_histogram import (
    TallyReportingMeterProvider,
    histogram_for,
)

logger = logging.getLogger(__name__)


class TalliedCounter:
    """A counter or up-down counter that adds up in memory and is read at collection.

    A synchronous SDK measurement costs about 10 us (attributes copied, validated, hashed,
    sorted; a lock; an exemplar offer). For sums whose only use is their running total
    (in-flight requests, items a batch processor handled or dropped), this keeps the total
    per attribute set in a dict instead, and an observable instrument of the same name,
    kind, unit and description reports it: the exported series are the same cumulative sums.
    """

    def __init__(self, name: str = "") -> None:
        self._lock = threading.Lock()
        self._totals: dict[frozenset, list] = {}
        self._drops = DropReport(name)

    def add(self, amount: int, attributes: dict | None = None, context: object = None) -> None:
        key = frozenset(attributes.items()) if attributes else frozenset()
        with self._lock:
            total = self._totals.get(key)
            if total is None:
                self._totals[key] = [amount, dict(attributes or {})]
            else:
                total[0] += amount
        if attributes and attributes.get("error.type") == "queue_full":
            self._drops.dropped(amount)

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            return [Observation(total, attributes) for total, attributes in self._totals.values()]

    def bound(self, attributes: dict) -> BoundTally:
        """The running total of one attribute set, for a caller that adds to that same set
        again and again (the in-flight count of a kind of request): hashed once, here."""
        key = frozenset(attributes.items())
        with self._lock:
            total = self._totals.setdefault(key, [0, dict(attributes)])
        drops = self._drops if attributes.get("error.type") == "queue_full" else None
        return BoundTally(self._lock, total, drops)


class BoundTally:
    """One attribute set's total in a TalliedCounter: add() is TalliedCounter.add for it."""

    __slots__ = ("_drops", "_lock", "_total")

    def __init__(self, lock: threading.Lock, total: list, drops: DropReport | None) -> None:
        self._lock = lock
        self._total = total
        self._drops = drops

    def add(self, amount: int) -> None:
        with self._lock:
            self._total[0] += amount
        if self._drops is not None:
            self._drops.dropped(amount)


class DropReport:
    """What a full export queue dropped, logged at most once per REPORT_SECONDS.

    The SDK's batch processors log "Queue full, dropping" for every item they drop, and a
    filter of theirs lets one line through per 20 s: the record is still built for every
    dropped span, which with the collector down cost more CPU than the span (measured:
    docs/overhead.md). settings.LOGGING silences that logger below ERROR; this says the
    same once per REPORT_SECONDS, with the count, from the tally that counts the drops.
    """

    REPORT_SECONDS = 20.0

    def __init__(self, counter_name: str) -> None:
        # otel.sdk.processor.span.processed -> spans; otel.sdk.processor.log.processed -> logs
        self._items = counter_name.split(".")[-2] + "s" if counter_name.count(".") > 1 else ""
        self._lock = threading.Lock()
        self._unreported = 0
        self._next_report = 0.0

    def dropped(self, amount: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._unreported += amount
            if now < self._next_report:
                return
            self._next_report = now + self.REPORT_SECONDS
            count, self._unreported = self._unreported, 0
        logger.warning(
            "Queue full, dropping %s: %d dropped since the last report (collector unreachable"
            " or too slow)",
            self._items or "items",
            count,
        )


# One tally per (scope, instrument) in this process, shared by every user of that name (a
# MeterProvider keeps the first instrument registered under a name and ignores the
# callbacks of later ones).
_tallies: dict[tuple[str, str], TalliedCounter] = {}
_tallies_lock = threading.Lock()


class _TalliedMeter:
    """A Meter whose chosen counters and up-down counters are TalliedCounter, and chosen
    histograms TalliedHistogram; every other instrument is the real one."""

    def __init__(
        self, meter: metrics.Meter, scope: InstrumentationScope, tallied: Callable[[str], bool]
    ):
        self._meter = meter
        self._scope = scope
        self._tallied = tallied

    def _tally(self, name: str, register: Callable[..., object], unit: str, description: str):
        with _tallies_lock:
            counter = _tallies.get((self._scope.name, name))
            if counter is None:
                counter = _tallies[(self._scope.name, name)] = TalliedCounter(name)
                register(name, callbacks=[counter.observe], unit=unit, description=description)
        return counter

    def create_counter(self, name: str, unit: str = "", description: str = ""):
        if not self._tallied(name):
            return self._meter.create_counter(name, unit=unit, description=description)
        return self._tally(name, self._meter.create_observable_counter, unit, description)

    def create_up_down_counter(self, name: str, unit: str = "", description: str = ""):
        if not self._tallied(name):
            return self._meter.create_up_down_counter(name, unit=unit, description=description)
        return self._tally(name, self._meter.create_observable_up_down_counter, unit, description)

    def create_histogram(
        self,
        name: str,
        unit: str = "",
        description: str = "",
        explicit_bucket_boundaries_advisory: Sequence[float] | None = None,
    ):
        # A tallied histogram reaches the readers only through a TallyReportingMeterProvider.
        reported = isinstance(metrics.get_meter_provider(), TallyReportingMeterProvider)
        tally = reported and self._tallied(name)
        boundaries = explicit_bucket_boundaries_advisory
        return histogram_for(self._meter, self._scope, tally, name, unit, description, boundaries)

    def __getattr__(self, name: str):
        return getattr(self._meter, name)


class TalliedMeterProvider(metrics.MeterProvider):
    """Meters whose counters and histograms named by `tallied` are tallied in memory, over
    the global MeterProvider (resolved when the meter is asked for, so it may be set
    afterwards)."""

    def __init__(self, tallied: Callable[[str], bool]) -> None:
        self._tallied = tallied

    def get_meter(self, name, version=None, schema_url=None, attributes=None):
        real = metrics.get_meter_provider().get_meter(name, version, schema_url, attributes)
        scope = InstrumentationScope(name, version, schema_url, attributes)
        return _TalliedMeter(real, scope, self._tallied)
