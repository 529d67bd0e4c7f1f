"""Whether this process runs the fast paths (telemetry.fastpath) or the stock OpenTelemetry
components they replace: the Django instrumentation's middleware, the SDK's OTLP span
exporters, the SDK's histograms and self-metric counters.

On only when the operator allows it (TELEMETRY_FAST_PATHS, default on) and the installed
OpenTelemetry is the one the fast paths were tested with (telemetry.upstream): at another
version a private symbol they use may have moved or changed, and a process on the stock
components is slower but correct, where one on a broken fast path is not. Decided once per
process, at the first question (telemetry.pipeline.setup asks before building anything);
the telemetry.fastpath modules are imported only when the answer is yes, so a moved symbol
cannot fail an import.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

from django.conf import settings

logger = logging.getLogger(__name__)

STOCK_COMPONENTS = "the stock server-span middleware, span and log exporters and SDK histograms"
# The batch processors' "Queue full, dropping" logger (telemetry.upstream lists it), silenced
# by settings.LOGGING while telemetry.fastpath.tallied_metrics reports the drops itself.
SDK_DROP_LOGGER = "opentelemetry.sdk._shared_internal"


@dataclass(frozen=True)
class FastPathDecision:
    """The fast paths on or off, and why off (one line for the log)."""

    enabled: bool
    reason: str = ""

    def describe(self) -> str:
        """The start-up line of a process running on the stock components."""
        return f"telemetry fast paths off: {self.reason}; using {STOCK_COMPONENTS}"


_lock = threading.Lock()
_decision: FastPathDecision | None = None
_announced_in: int | None = None  # the pid that logged the decision


def fast_paths_decision() -> FastPathDecision:
    """This process's decision, made at the first call (a forked child keeps its parent's:
    the installed packages are the same)."""
    global _decision
    with _lock:
        if _decision is None:
            _decision = _decide()
        return _decision


def fast_paths_enabled() -> bool:
    """Whether this process uses telemetry.fastpath instead of the stock components."""
    return fast_paths_decision().enabled


def _decide() -> FastPathDecision:
    if not getattr(settings, "TELEMETRY_FAST_PATHS", True):
        return FastPathDecision(False, "TELEMETRY_FAST_PATHS=off")
    from telemetry.upstream.compatibility import check_compatibility

    compatibility = check_compatibility()
    if not compatibility.tested:
        return FastPathDecision(False, compatibility.describe())
    return FastPathDecision(True)


def announce_stock_components() -> None:
    """Once per process, when the fast paths are off: say so in one line (a warning when the
    installed OpenTelemetry differs, information when the operator chose it), and let the
    SDK's own report of dropped spans and log records through again.

    Called once logging is configured (telemetry.pipeline.setup.announce_destination), after
    settings.LOGGING has silenced that report."""
    global _announced_in
    decision = _decision
    if decision is None or decision.enabled or _announced_in == os.getpid():
        return
    _announced_in = os.getpid()
    chosen = decision.reason == "TELEMETRY_FAST_PATHS=off"
    logger.log(logging.INFO if chosen else logging.WARNING, decision.describe())
    logging.getLogger(SDK_DROP_LOGGER).setLevel(logging.NOTSET)
