"""Run Prometheus' own checker (promtool) over rule files, when it is installed.

The service never reimplements PromQL parsing: promtool is the authority. Where it is not on
the machine, callers get an outcome that says so instead of a silent pass.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

NOT_CHECKED = (
    "promtool was not found on this machine (set PROMTOOL_PATH or install the 'prometheus' "
    "package), so the expression and templates were NOT checked; Prometheus will refuse the "
    "rule file on reload if they do not parse."
)


@dataclass
class PromtoolOutcome:
    """What promtool said: checked=False means it could not run at all."""

    checked: bool
    ok: bool
    errors: list[str] = field(default_factory=list)
    output: str = ""


def promtool_path() -> str | None:
    """The promtool binary: PROMTOOL_PATH if set, else the one on PATH, else None."""
    configured = getattr(settings, "PROMTOOL_PATH", "")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("promtool")


def check_rules_file(path: Path) -> PromtoolOutcome:
    """`promtool check rules PATH`; each error line is returned without the file name."""
    binary = promtool_path()
    if binary is None:
        return PromtoolOutcome(checked=False, ok=False, errors=[NOT_CHECKED])
    done = subprocess.run(
        [binary, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    errors = [
        line.split(": ", 1)[1] if line.startswith(str(path)) else line.strip()
        for line in done.stderr.splitlines()
        if line.strip() and line.strip() != "FAILED:"
    ]
    return PromtoolOutcome(checked=True, ok=done.returncode == 0, errors=errors, output=output)


def check_rules_text(text: str) -> PromtoolOutcome:
    """Check rule-file YAML given as text (written to a temporary file for promtool)."""
    with tempfile.TemporaryDirectory(prefix="rules-") as tmp:
        path = Path(tmp) / "rules.yml"
        path.write_text(text, encoding="utf-8")
        return check_rules_file(path)


def run_rule_unit_tests(path: Path) -> PromtoolOutcome:
    """`promtool test rules PATH`: run rule unit tests."""
    binary = promtool_path()
    if binary is None:
        return PromtoolOutcome(checked=False, ok=False, errors=[NOT_CHECKED])
    done = subprocess.run(
        [binary, "test", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
    output = done.stdout + done.stderr
    return PromtoolOutcome(
        checked=True,
        ok=done.returncode == 0,
        errors=[] if done.returncode == 0 else [output],
        output=output,
    )
