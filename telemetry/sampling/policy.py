"""The sampling policy every process holds in memory, rebuilt from the admin's rows.

The sampler (telemetry.sampling) reads only this snapshot: no query per span. An edit in the
admin calls `announce_policy_change()` after commit; telemetry.control then makes every
process (each gunicorn worker, each Celery pool child) reload it within about a second.
With no policy row, the snapshot says "from the environment": OTEL_TRACES_SAMPLER and
OTEL_TRACES_SAMPLER_ARG decide, as the SDK would on its own.

Importable before Django's apps are ready (telemetry.pipeline.setup builds the sampler in gunicorn's
post_fork, before the app loads): the models are imported by the loader only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from opentelemetry.sdk.trace.sampling import Decision, SamplingResult

from common.safe_regex import SafePattern
from telemetry.control import channels
from telemetry.conventions.routes import route_template

if TYPE_CHECKING:
    from telemetry.models import SamplingPolicy

RULE_ATTRIBUTE = "sampling.rule"
# Like the SDK's TraceIdRatioBased: the lower 64 bits of the trace id against a bound, so
# every process (and the SDK) takes the same decision for the same trace id and ratio.
TRACE_ID_MASK = (1 << 64) - 1
_MEMO_LIMIT = 1024  # distinct span names remembered per snapshot (routes and tasks are few)

HTTP_RULE, TASK_RULE = "http", "task"  # SamplingRule.Kind values
FORCED_BY_HEADER = "forced: header"
FORCED_BY_USER = "forced: user"


@dataclass(frozen=True)
class RootDecision:
    """What the policy decides for a root span: keep it when the trace id is under `bound`.

    `kept` is built once per snapshot, so a decision allocates nothing.
    """

    label: str
    ratio: float
    bound: int
    kept: SamplingResult

    @classmethod
    def build(cls, label: str, ratio: float) -> RootDecision:
        kept = SamplingResult(Decision.RECORD_AND_SAMPLE, {RULE_ATTRIBUTE: label})
        return cls(label, ratio, round(ratio * (TRACE_ID_MASK + 1)), kept)


@dataclass(frozen=True)
class CompiledRule:
    kind: str  # SamplingRule.Kind
    # Every search bounded in time: a pattern saved before the cost check, or one the
    # check missed, costs a span start at most common.safe_regex.MATCH_TIMEOUT.
    pattern: SafePattern
    decision: RootDecision


@dataclass
class PolicySnapshot:
    """The policy in force in this process; immutable but for its name memos."""

    from_env: bool  # no policy row: OTEL_TRACES_SAMPLER decides
    default: RootDecision
    rules: tuple[CompiledRule, ...] = ()
    force_header_key: str | None = None  # the request.META key, e.g. HTTP_X_FORCE_TRACE
    force_header_value: str = ""
    force_tokens: frozenset[str] = frozenset()
    force_user_ids: frozenset[int] = frozenset()
    export_traces: bool = True
    export_metrics: bool = True
    export_logs: bool = True
    summary: str = ""
    forcing: bool = False  # some requests may be forced (a header value or users are set)
    forced: dict[str, SamplingResult] = field(default_factory=dict)
    _server_memo: dict[str, RootDecision] = field(default_factory=dict, repr=False)
    _task_memo: dict[str, RootDecision] = field(default_factory=dict, repr=False)

    @cached_property
    def decides_by_route(self) -> bool:
        """Whether a rule matches server spans by route: then a server span must be named by
        its route when it starts (the sampler sees only the name). Asked on every request."""
        return any(rule.kind == HTTP_RULE for rule in self.rules)

    def for_server_span(self, name: str) -> RootDecision:
        """The decision for a server span named by the Django instrumentation at its start.

        At start the instrumentation has already resolved the path (it names the span
        'GET api/users/<int:user_id>'): the route template is derived from that name once
        per distinct name, then remembered.
        """
        decision = self._server_memo.get(name)
        if decision is None:
            method, _, route = name.partition(" ")
            subject = f"{method} {route_template(route)}" if route else method
            decision = self._first_match(HTTP_RULE, subject)
            if len(self._server_memo) < _MEMO_LIMIT:
                self._server_memo[name] = decision
        return decision

    def for_task_span(self, name: str) -> RootDecision:
        """The decision for a Celery span 'run/<task>' or 'apply_async/<task>'."""
        decision = self._task_memo.get(name)
        if decision is None:
            task = name.partition("/")[2]
            decision = self._first_match(TASK_RULE, task) if task else self.default
            if len(self._task_memo) < _MEMO_LIMIT:
                self._task_memo[name] = decision
        return decision

    def _first_match(self, kind: str, subject: str) -> RootDecision:
        for rule in self.rules:
            if rule.kind == kind and rule.pattern.search(subject):
                return rule.decision
        return self.default

    def forced_reason(self, meta: dict) -> str | None:
        """Why this request must start a kept trace (a label), or None."""
        key = self.force_header_key
        if key is not None and meta.get(key) == self.force_header_value:
            return FORCED_BY_HEADER
        if self.force_tokens:
            scheme, _, token = meta.get("HTTP_AUTHORIZATION", "").partition(" ")
            if scheme == "Token" and token in self.force_tokens:
                return FORCED_BY_USER
        return None


def _forced_results() -> dict[str, SamplingResult]:
    return {
        label: SamplingResult(Decision.RECORD_AND_SAMPLE, {RULE_ATTRIBUTE: label})
        for label in (FORCED_BY_HEADER, FORCED_BY_USER)
    }


ENV_POLICY = PolicySnapshot(
    from_env=True,
    default=RootDecision.build("OTEL_TRACES_SAMPLER", 1.0),
    summary="no policy row: OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG decide",
)


def _tokens_of(user_ids: frozenset[int]) -> frozenset[str]:
    if not user_ids or not apps.is_installed("rest_framework.authtoken"):
        return frozenset()
    from rest_framework.authtoken.models import Token

    return frozenset(Token.objects.filter(user_id__in=user_ids).values_list("key", flat=True))


def build_snapshot(policy: SamplingPolicy | None) -> PolicySnapshot:
    """The in-memory form of a policy row and its enabled rules (None: the environment's)."""
    if policy is None:
        return ENV_POLICY
    rules = tuple(
        CompiledRule(
            rule.kind, SafePattern(rule.pattern), RootDecision.build(rule.label, rule.ratio)
        )
        for rule in policy.rules.filter(enabled=True).order_by("position", "pk")
    )
    header_key = None
    if policy.force_header_value:
        header_key = "HTTP_" + policy.force_header_name.upper().replace("-", "_")
    user_ids = frozenset(policy.force_users.values_list("pk", flat=True))
    tokens = _tokens_of(user_ids)
    parts = [f"default {policy.default_ratio:g}"]
    parts += [f"{r.decision.label} -> {r.decision.ratio:g}" for r in rules]
    if header_key:
        parts.append(f"forced by header {policy.force_header_name}")
    if tokens:
        parts.append(f"forced for {len(tokens)} API token(s)")
    switches = {"traces": policy.export_traces, "metrics": policy.export_metrics}
    switches["logs"] = policy.export_logs
    off = [name for name, on in switches.items() if not on]
    if off:
        parts.append("export off: " + ", ".join(off))
    return PolicySnapshot(
        from_env=False,
        default=RootDecision.build("default", policy.default_ratio),
        rules=rules,
        force_header_key=header_key,
        force_header_value=policy.force_header_value,
        force_tokens=tokens,
        force_user_ids=user_ids,
        export_traces=policy.export_traces,
        export_metrics=policy.export_metrics,
        export_logs=policy.export_logs,
        summary="; ".join(parts),
        forcing=header_key is not None or bool(tokens),
        forced=_forced_results(),
    )


def load_policy() -> PolicySnapshot:
    """The channel's loader: the first policy row (the admin keeps one), or the environment."""
    from telemetry.models import SamplingPolicy

    return build_snapshot(SamplingPolicy.objects.order_by("pk").first())


policy_channel: channels.Channel[PolicySnapshot] = channels.register_channel(
    channels.Channel("sampling", load_policy, empty=ENV_POLICY)
)


def current_policy() -> PolicySnapshot:
    """The policy this process obeys now: memory only, no query."""
    return policy_channel.snapshot()


def announce_policy_change() -> None:
    """Tell every process to reload the policy once the current transaction commits."""
    transaction.on_commit(policy_channel.notify_changed)


def _token_changed(sender: type, instance: Any, **kwargs: Any) -> None:
    # A forced user's new (or deleted) API token must reach the snapshots that hold the keys.
    if instance.user_id in current_policy().force_user_ids:
        announce_policy_change()


# A lazy sender ("app_label.Model"): connected once DRF's token model is loaded, if ever.
for _signal in (post_save, post_delete):
    _signal.connect(
        _token_changed, sender="authtoken.Token", dispatch_uid=f"sampling-token-{_signal!r}"
    )
