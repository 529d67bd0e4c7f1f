"""With the OpenTelemetry this repository installs, the fast paths are on: the versions are
exactly the tested ones, which are requirements.lock's pins, and every private symbol of the
list resolves where the list says, in the distribution it names."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from telemetry.pipeline.fast_paths import fast_paths_decision, fast_paths_enabled
from telemetry.upstream.compatibility import check_compatibility, unresolved_symbols
from telemetry.upstream.private_api import MODULE, PRIVATE_SYMBOLS
from telemetry.upstream.versions import TESTED_VERSIONS, version_mismatches
from tests.paths import REPO_ROOT

LOCK = Path(REPO_ROOT) / "requirements.lock"


def locked_versions() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_it_tested_the_versions_requirements_lock_pins():
    # Bumping one in the lock fails here until versions.py says it was re-checked.
    locked = locked_versions()
    assert {d: locked.get(d) for d in TESTED_VERSIONS} == TESTED_VERSIONS


def test_it_finds_the_tested_versions_installed():
    assert version_mismatches() == []


def test_it_resolves_every_listed_private_symbol():
    assert unresolved_symbols(PRIVATE_SYMBOLS) == []
    assert check_compatibility().tested


def test_it_runs_the_fast_paths():
    assert fast_paths_decision().reason == ""
    assert fast_paths_enabled()


def test_every_fast_path_symbol_comes_from_a_distribution_whose_version_is_checked():
    unchecked = {s.dotted: s.distribution for s in PRIVATE_SYMBOLS if s.fast_path}
    assert {k: d for k, d in unchecked.items() if d not in TESTED_VERSIONS} == {}


def test_each_symbol_lives_in_the_distribution_the_list_names():
    misplaced = {}
    for symbol in PRIVATE_SYMBOLS:
        files = {str(f) for f in metadata.distribution(symbol.distribution).files or ()}
        module_path = symbol.module.replace(".", "/")
        if f"{module_path}.py" not in files and f"{module_path}/__init__.py" not in files:
            misplaced[symbol.dotted] = symbol.distribution
    assert misplaced == {}


def test_each_entry_says_why_what_to_recheck_and_what_runs_without_it():
    for symbol in PRIVATE_SYMBOLS:
        assert symbol.why and symbol.recheck and symbol.fallback, symbol.dotted
        assert symbol.used_by, symbol.dotted
        assert (symbol.name == "") == (symbol.kind == MODULE), symbol.dotted
    dotted = [symbol.dotted for symbol in PRIVATE_SYMBOLS]
    assert len(dotted) == len(set(dotted)), "one entry per symbol"
