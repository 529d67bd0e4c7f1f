"""The modes bench/overhead.py measures (served, --worker and --in-process alike): each is
the environment the service starts with, and the stock modes a set-up of their own."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Everything a mode sets on top of the common environment. The collector's endpoint is
# filled in at run time ("{collector}", "{closed}": a port nothing listens on).
_FULL = {"OTEL_EXPORTER_OTLP_ENDPOINT": "{collector}"}
_ALWAYS_ON = {**_FULL, "OTEL_TRACES_SAMPLER": "parentbased_always_on"}


def _ratio(arg: str) -> dict[str, str]:
    return {
        **_FULL,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": arg,
    }


MODES: dict[str, dict[str, str]] = {
    "off": {"OTEL_SDK_DISABLED": "true"},
    "full 100%": dict(_ALWAYS_ON),
    "full 10%": _ratio("0.1"),
    "full 1%": _ratio("0.01"),
    "collector down": {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "{closed}",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
    },
    # The local store of spans and logs (TELEMETRY_LOCAL_STORE) with the collector up. Until
    # the service reads the variable, this mode is "full 100%" under another name.
    "local store on": {**_ALWAYS_ON, "TELEMETRY_LOCAL_STORE": "on"},
    # Not our pipeline: the service set up as the OpenTelemetry docs show (bench/stock_otel),
    # with the same collector and sampling variables.
    "stock 100%": dict(_ALWAYS_ON),
    "stock 1%": _ratio("0.01"),
}
STOCK_MODES = ("stock 100%", "stock 1%")
STOCK_GUNICORN_CONFIG = ROOT / "bench" / "stock_otel" / "gunicorn.conf.py"
STOCK_CELERY_APP = "bench.stock_otel.celery_app"
BASELINE = "off"
# A mode run from the --baseline-tree checkout is named "<mode> @baseline".
BASELINE_TREE_SUFFIX = " @baseline"


def mode_environment(mode: str) -> dict[str, str]:
    """The environment of a mode, also for its twin from the baseline tree."""
    return MODES[mode.removesuffix(BASELINE_TREE_SUFFIX)]


def is_stock(mode: str) -> bool:
    return mode in STOCK_MODES


def run_order(modes: list[str], baseline_tree: bool) -> list[str]:
    """Every mode once per round: off first, then each telemetry mode, each followed by its
    twin from the baseline tree when there is one (rotated from round to round). The stock
    modes have no twin: they do not run the service's telemetry."""
    order = [BASELINE]
    for mode in modes:
        if mode != BASELINE:
            order.append(mode)
            if baseline_tree and not is_stock(mode):
                order.append(mode + BASELINE_TREE_SUFFIX)
    return order


def filled(mode: str, endpoints: dict[str, str]) -> dict[str, str]:
    """The mode's environment with the collector's endpoints filled in."""
    return {k: endpoints.get(v, v) for k, v in mode_environment(mode).items()}


def tree_of(mode: str, baseline_tree: Path | None) -> Path:
    """The checkout whose code the mode runs."""
    return baseline_tree if mode.endswith(BASELINE_TREE_SUFFIX) and baseline_tree else ROOT


def web_options(mode: str, baseline_tree: Path | None) -> dict:
    """How Stack.start_web starts the mode's gunicorn: its tree, or the stock config."""
    if is_stock(mode):
        return {"config": str(STOCK_GUNICORN_CONFIG)}
    return {"tree": tree_of(mode, baseline_tree)}


def worker_options(mode: str, baseline_tree: Path | None) -> dict:
    """How Stack.start_worker starts the mode's Celery worker: its tree, or the stock app."""
    if is_stock(mode):
        return {"app": STOCK_CELERY_APP}
    return {"tree": tree_of(mode, baseline_tree)}


# What every mode shares: the body of POST /api/process (and the text of a --worker job),
# and throttles far above what the load reaches (a 429 would be a cheap, fast error).
PROCESS_BODY = {"data": "The quick brown fox jumps over the lazy dog. " * 8}
UNTHROTTLED = {"API_THROTTLE_USER": "100000000/min", "API_THROTTLE_ANON": "100000000/min"}
