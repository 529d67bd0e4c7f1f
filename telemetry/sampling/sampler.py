"""The sampler every process's TracerProvider uses: parent-based, steered from the admin.

A span with a parent follows it (kept or dropped as a whole across HTTP and Celery hops,
whatever the policy says now). A root span is decided by the policy snapshot in memory
(telemetry.sampling.policy): a request forced for debugging is kept; else the first
matching rule's ratio applies (HTTP rules to server spans, task rules to Celery spans),
else the default ratio. The decision compares the trace id's lower 64 bits with a bound, as
the SDK's TraceIdRatioBased does. With no policy row, OTEL_TRACES_SAMPLER decides.

Kept root spans carry `sampling.rule` (which rule kept the trace); the first span of a
process that continues a remote trace carries `sampling.rule = parent`.
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Callable, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    DEFAULT_OFF,
    DEFAULT_ON,
    Decision,
    ParentBasedTraceIdRatio,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from telemetry.sampling.policy import (
    RULE_ATTRIBUTE,
    TRACE_ID_MASK,
    PolicySnapshot,
    RootDecision,
    current_policy,
)

logger = logging.getLogger(__name__)

# Set by telemetry.sampling.forcing.ForcedSamplingMiddleware, before the server span starts,
# for a request the policy forces; the label it holds goes into sampling.rule.
forced_reason: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "telemetry_forced_sampling", default=None
)

# Results that do not depend on the span are built once: a decision allocates nothing when
# the parent carries no trace state (the usual case).
_DROP = SamplingResult(Decision.DROP)
_KEEP_REMOTE_CHILD = SamplingResult(Decision.RECORD_AND_SAMPLE, {RULE_ATTRIBUTE: "parent"})
_KEEP_LOCAL_CHILD = SamplingResult(Decision.RECORD_AND_SAMPLE)
_KEEP_ENV_ROOT_LABEL = "OTEL_TRACES_SAMPLER"
_KEEP_ENV_ROOT = SamplingResult(Decision.RECORD_AND_SAMPLE, {RULE_ATTRIBUTE: _KEEP_ENV_ROOT_LABEL})
_SERVER, _CONSUMER, _PRODUCER = SpanKind.SERVER, SpanKind.CONSUMER, SpanKind.PRODUCER
_DROPPED = Decision.DROP


class PolicySampler(Sampler):
    """Parent-based sampler whose root decisions follow the admin's sampling policy."""

    def __init__(
        self,
        env_sampler: Sampler | None = None,
        policy: Callable[[], PolicySnapshot] = current_policy,
    ) -> None:
        # The sampler OTEL_TRACES_SAMPLER / _ARG name, used while no policy row exists.
        self._env_sampler = env_sampler or sampler_from_env()
        # Its root decision as the policy's own kind of decision, when it is the SDK's
        # parent-based sampler of a ratio (or always on / off): a root span, most requests,
        # is decided here without the two sampler calls and their lookups of the parent.
        self._env_root = _env_root_decision() if env_sampler is None else None
        # Where the policy comes from: this process's snapshot (tests may pass their own).
        self._policy = policy

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        result = self._decide(parent_context, trace_id, name, kind, attributes, links)
        return _with_start_attributes(result, attributes)

    def _decide(self, parent_context, trace_id, name, kind, attributes, links) -> SamplingResult:
        policy = self._policy()
        parent = get_current_span(parent_context).get_span_context()
        if policy.from_env:
            return self._from_env(parent, parent_context, trace_id, name, kind, attributes, links)
        if parent.is_valid:
            if parent.trace_state:  # kept as is, down the trace
                sampled = parent.trace_flags.sampled
                decision = Decision.RECORD_AND_SAMPLE if sampled else Decision.DROP
                attrs = {RULE_ATTRIBUTE: "parent"} if sampled and parent.is_remote else None
                return SamplingResult(decision, attrs, parent.trace_state)
            if not parent.trace_flags.sampled:
                return _DROP
            return _KEEP_REMOTE_CHILD if parent.is_remote else _KEEP_LOCAL_CHILD
        if policy.forcing:
            reason = forced_reason.get()
            if reason is not None:
                return policy.forced[reason]
        if kind is _SERVER:
            root = policy.for_server_span(name)
        elif kind is _CONSUMER or kind is _PRODUCER:
            root = policy.for_task_span(name)
        else:
            root = policy.default
        return root.kept if (trace_id & TRACE_ID_MASK) < root.bound else _DROP

    def follows_dropped_parents(self) -> bool:
        """Whether a span whose parent is valid but not sampled is dropped now, whatever
        else it is: true of every policy row, and of OTEL_TRACES_SAMPLER's parent-based
        values while no row exists (not of always_on or traceidratio, which ignore parents).
        Lets an instrumentation skip a span in a dropped trace (telemetry.fastpath.db_spans)."""
        return not self._policy().from_env or self._env_root is not None

    def _from_env(self, parent, parent_context, trace_id, name, kind, attributes, links):
        root = self._env_root
        if root is not None and not parent.is_valid:
            return root.kept if (trace_id & TRACE_ID_MASK) < root.bound else _DROP
        result = self._env_sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links
        )
        if not parent.is_valid and result.decision is Decision.RECORD_AND_SAMPLE:
            return _KEEP_ENV_ROOT
        return result

    def get_description(self) -> str:
        return f"PolicySampler{{env={self._env_sampler.get_description()}}}"


def _with_start_attributes(result: SamplingResult, attributes: Attributes) -> SamplingResult:
    """The result with the attributes the span was started with, before the sampler's own
    (sampling.rule). The SDK gives a recording span the attributes of the sampler's result,
    not those it was started with, so a sampler must hand them back, as the SDK's samplers
    do; the prebuilt results carry only ours."""
    if not attributes or result.decision is _DROPPED:  # a dropped span records nothing
        return result
    return SamplingResult(result.decision, {**attributes, **result.attributes}, result.trace_state)


def sampler_from_env() -> Sampler:
    """The sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name, as TracerProvider
    picks it when given none: with the SDK's own reader of those variables, which is private
    (telemetry.upstream lists it), or, if that moved, with ours from the public samplers."""
    try:
        from opentelemetry.sdk.trace.sampling import _get_from_env_or_default
    except ImportError:
        return _sampler_named_by_env()
    return _get_from_env_or_default()


# The values of OTEL_TRACES_SAMPLER the SDK knows (the specification's, without the remote
# ones), for _sampler_named_by_env.
_SAMPLERS_BY_NAME: dict[str, Callable[[float], Sampler]] = {
    "always_on": lambda ratio: ALWAYS_ON,
    "always_off": lambda ratio: ALWAYS_OFF,
    "parentbased_always_on": lambda ratio: DEFAULT_ON,
    "parentbased_always_off": lambda ratio: DEFAULT_OFF,
    "traceidratio": TraceIdRatioBased,
    "parentbased_traceidratio": ParentBasedTraceIdRatio,
}


def _sampler_named_by_env() -> Sampler:
    """What the SDK's reader does, with public names: an unknown sampler is the default
    (parentbased_always_on), a ratio that is not a number is 1.0, each with a warning."""
    name = os.environ.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").lower()
    if name not in _SAMPLERS_BY_NAME:
        logger.warning("Couldn't recognize sampler %s.", name)
        name = "parentbased_always_on"
    sampler = _SAMPLERS_BY_NAME[name]
    if name.endswith("traceidratio"):
        try:
            return sampler(float(os.environ.get("OTEL_TRACES_SAMPLER_ARG", "")))
        except (ValueError, TypeError):  # not a number, or not in [0, 1]
            logger.warning("Could not convert TRACES_SAMPLER_ARG to float. Using default rate 1.0.")
    return sampler(1.0)


def ratio_named_by_env() -> tuple[float | None, str]:
    """The default ratio a policy row must have to keep sampling as OTEL_TRACES_SAMPLER and
    OTEL_TRACES_SAMPLER_ARG have it now, and the sampler's description; None when no ratio
    says the same (a parent-less sampler: a policy row always follows parents)."""
    name = os.environ.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").lower()
    described = f"OTEL_TRACES_SAMPLER={name}"
    if name == "parentbased_always_on":
        return 1.0, described
    if name == "parentbased_always_off":
        return 0.0, described
    if name == "parentbased_traceidratio":
        raw = os.environ.get("OTEL_TRACES_SAMPLER_ARG", "")
        try:
            ratio = float(raw)
        except ValueError:
            return 1.0, f"{described} (OTEL_TRACES_SAMPLER_ARG={raw!r} is not a number: 1.0)"
        if 0.0 <= ratio <= 1.0:
            return ratio, f"{described}, OTEL_TRACES_SAMPLER_ARG={raw}"
        return 1.0, f"{described} (OTEL_TRACES_SAMPLER_ARG={raw} is outside 0..1: 1.0)"
    return None, described


def _env_root_decision() -> RootDecision | None:
    """How OTEL_TRACES_SAMPLER decides a root span, for the parent-based samplers (the bound
    is the SDK's TraceIdRatioBased's); None for the others."""
    ratio, _ = ratio_named_by_env()
    return None if ratio is None else RootDecision.build(_KEEP_ENV_ROOT_LABEL, ratio)


def build_sampler() -> Sampler:
    """The sampler for this process's TracerProvider (telemetry.pipeline.setup)."""
    return PolicySampler()
