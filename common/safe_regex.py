"""Regular expressions that staff type in (sampling rules, profiling route patterns), run
with a bounded cost.

Python's `re` backtracks without limit: `(a+)+$` against forty "a" and a "!" takes minutes,
and a pattern matched on every request stalls every worker thread that meets it (issue 15).
`regex` (PyPI, a superset of `re`'s syntax) takes a timeout per match, so:
- check_pattern() is the save-time check: the pattern must compile, and must answer each
  probe below within CHECK_TIMEOUT; probes are the strings that make a backtracking
  pattern blow up (long runs of the characters it names, then one it cannot match).
- SafePattern.search() is the run-time guard: a match that takes longer than its timeout
  counts as no match (and is logged once per pattern), so a pattern the probes missed costs
  a request at most that long, never a worker.
An engine without backtracking (RE2) would make both unnecessary but refuses part of the
syntax people already use here (look-arounds, back-references); `regex` keeps it.
"""

from __future__ import annotations

import logging
import string
import time
from dataclasses import dataclass, field

import regex

logger = logging.getLogger(__name__)

# Per match on the hot path: a route template or a path is short, a sane pattern answers in
# microseconds; 20 ms is a cost a request survives and a sign of a pathological pattern.
MATCH_TIMEOUT = 0.02
# Per probe at save time: generous, so a busy machine does not refuse a good pattern.
CHECK_TIMEOUT = 0.25
# All probes together: a pattern slow on every probe is refused too.
CHECK_BUDGET = 1.0
_PROBE_LENGTH = 5000
_TAILS = ("!", "\x00", " ", "/")


class UnsafePattern(ValueError):
    """The pattern does not compile, or it takes too long on a probe."""


def _probes(pattern: str) -> list[str]:
    # The characters the pattern names, and the classes that \w, \d, . and \s stand for.
    named = {ch for ch in pattern if ch.isprintable() and ch not in "()[]{}?*+|^$\\"}
    alphabet = sorted(named | {"a", "0", "-", "_", "/", " "})
    runs = [ch * _PROBE_LENGTH for ch in alphabet]
    runs.append((string.ascii_lowercase + string.digits) * (_PROBE_LENGTH // 36))
    runs.append("".join(alphabet) * (_PROBE_LENGTH // max(1, len(alphabet))))
    return [run + tail for run in runs for tail in _TAILS]


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    try:
        # VERSION0: the `re`-compatible behaviour, so a pattern means what it meant before.
        return regex.compile(pattern, regex.VERSION0)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise UnsafePattern(f"not a valid regular expression: {exc}") from None


def check_pattern(pattern: str, *, timeout: float = CHECK_TIMEOUT) -> regex.Pattern[str]:
    """The compiled pattern, or UnsafePattern saying why it is refused."""
    compiled = compile_pattern(pattern)
    deadline = time.monotonic() + CHECK_BUDGET
    for probe in _probes(pattern):
        try:
            compiled.search(probe, timeout=timeout)
            slow = time.monotonic() > deadline
        except TimeoutError:
            slow = True
        if slow:
            raise UnsafePattern(
                "this regular expression takes too long on some inputs (nested or "
                "overlapping repetition such as (a+)+ backtracks exponentially); simplify it"
            )
    return compiled


@dataclass
class SafePattern:
    """A compiled pattern whose every search is bounded by `timeout` seconds."""

    pattern: str
    timeout: float = MATCH_TIMEOUT
    compiled: regex.Pattern[str] = field(init=False, repr=False)
    _warned: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.compiled = compile_pattern(self.pattern)

    def search(self, text: str) -> bool:
        """Whether the pattern is found in `text`; False when it took longer than allowed."""
        try:
            return self.compiled.search(text, timeout=self.timeout) is not None
        except TimeoutError:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "regular expression timed out; counted as no match",
                    extra={"pattern": self.pattern[:200], "timeout_seconds": self.timeout},
                )
            return False
