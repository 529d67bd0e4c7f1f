"""deploy/compose.yaml against the Compose Specification's own JSON schema (the copy that
check-jsonschema ships), not only against what the other tests expect of it (issue 22,
item 11): a key Compose does not know, or a value of the wrong type, fails here as
`docker compose config` would fail on a machine with Docker."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.paths import REPO_ROOT

CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
COMPOSE_FILES = sorted((REPO_ROOT / "deploy").glob("compose*.yaml"))


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_the_compose_file_is_valid_compose(path):
    done = check(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validation done" in done.stdout


@pytest.mark.parametrize(
    "break_it",
    [
        lambda compose: compose["services"]["web"].update(portz=["8000:8000"]),
        lambda compose: compose["services"]["web"].update(restart=["always"]),
        lambda compose: compose["services"]["redis"].update(environment=5),
    ],
    ids=["unknown key", "list for a string", "number for a mapping"],
)
def test_a_broken_compose_file_is_refused(tmp_path, break_it):
    compose = yaml.safe_load((REPO_ROOT / "deploy" / "compose.yaml").read_text())
    break_it(compose)
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(compose))
    done = check(broken)
    assert done.returncode != 0, done.stdout


def test_the_validator_is_installed():
    assert CHECK_JSONSCHEMA.exists() or shutil.which("check-jsonschema"), (
        "check-jsonschema comes with the dev dependencies (make install)"
    )
