"""The `e2e` marker is applied at collection (tests/conftest.py): `pytest -m "not e2e"` selects
no test that starts a process, a test that requests a process fixture is e2e without saying
so, a module that uses a process starter of tests/harness without the marker fails the
collection, and the list of starters (tests/harness/process_starters.py) is complete.

Each check runs pytest's collection in a child process, as a developer would."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.harness.process_starters import (
    PROCESS_FIXTURES,
    PROCESS_STARTERS,
    process_starters_used,
)
from tests.paths import REPO_ROOT

TESTS = REPO_ROOT / "tests"


def collect(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def node_ids(done: subprocess.CompletedProcess) -> list[str]:
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


def collect_with_the_suites_conftest(directory: Path, *args: str) -> subprocess.CompletedProcess:
    """Collect the test modules in DIRECTORY (outside the tree) with the hook and the plugins
    of tests/conftest.py, re-exported by a conftest.py of DIRECTORY's own."""
    (directory / "conftest.py").write_text(
        "from tests.conftest import pytest_collection_modifyitems, pytest_plugins\n"
    )
    return collect(
        *("-c", str(REPO_ROOT / "pyproject.toml"), "--rootdir", str(directory)),
        *(*args, str(directory)),
        cwd=directory,
    )


def requests_a_process_fixture(tree: ast.Module) -> bool:
    """A test or fixture of the module takes a process fixture as an argument."""
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and PROCESS_FIXTURES.keys() & {arg.arg for arg in node.args.args}
        for node in ast.walk(tree)
    )


THIS_TEST = "test_not_e2e_selects_no_test_of_a_module_that_starts_processes"


def test_not_e2e_selects_no_test_of_a_module_that_starts_processes():
    starting = set()
    for path in TESTS.rglob("test_*.py"):
        source = path.read_text()
        if process_starters_used(source) or requests_a_process_fixture(ast.parse(source)):
            starting.add(path.relative_to(REPO_ROOT).as_posix())
    fast = node_ids(collect("-m", "not e2e", "tests"))
    e2e = node_ids(collect("-m", "e2e", "tests"))

    assert "tests/site/test_graceful_shutdown.py" in starting  # the criterion finds them
    assert [node for node in fast if node.split("::")[0] in starting] == []
    assert starting <= {node.split("::")[0] for node in e2e}
    assert f"{Path(__file__).relative_to(REPO_ROOT).as_posix()}::{THIS_TEST}" in fast


def test_a_test_that_requests_a_process_fixture_is_e2e_without_a_marker(tmp_path):
    (tmp_path / "test_unmarked.py").write_text(
        textwrap.dedent(
            """
            import pytest

            from tests.harness import servers
            from tests.harness.servers import free_port


            @pytest.fixture
            def traced_stack(collector, stack):
                return stack


            def test_in_process():
                assert free_port() and servers.free_port()


            def test_with_the_stack(stack):
                pass


            def test_through_a_fixture_of_its_own(traced_stack):
                pass
            """
        )
    )

    fast = node_ids(collect_with_the_suites_conftest(tmp_path, "-m", "not e2e"))
    e2e = node_ids(collect_with_the_suites_conftest(tmp_path, "-m", "e2e"))

    assert fast == ["test_unmarked.py::test_in_process"]
    assert e2e == [
        "test_unmarked.py::test_with_the_stack",
        "test_unmarked.py::test_through_a_fixture_of_its_own",
    ]


def test_a_module_that_starts_processes_without_the_marker_fails_the_collection(tmp_path):
    (tmp_path / "test_imports_a_starter.py").write_text(
        textwrap.dedent(
            """
            def test_runs_the_bench_driver(tmp_path):
                from tests.harness.servers import prepared_stack

                with prepared_stack(tmp_path):
                    pass
            """
        )
    )
    (tmp_path / "test_reaches_a_starter.py").write_text(
        textwrap.dedent(
            """
            import pytest

            from tests.harness import collector


            @pytest.mark.e2e
            def test_marked(tmp_path):
                with collector.running_collector(tmp_path):
                    pass


            def test_parses_the_printout():
                assert collector.parse("").spans == []
            """
        )
    )

    done = collect_with_the_suites_conftest(tmp_path, "-m", "not e2e")

    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert (
        "test_imports_a_starter.py starts processes through tests/harness "
        "(tests.harness.servers.prepared_stack) but is not marked e2e "
        "(unmarked: test_runs_the_bench_driver)"
    ) in done.stderr
    assert (
        "test_reaches_a_starter.py starts processes through tests/harness "
        "(tests.harness.collector.running_collector) but is not marked e2e "
        "(unmarked: test_parses_the_printout)"
    ) in done.stderr
    assert "`pytestmark = pytest.mark.e2e`" in done.stderr


# What starts a process when called; everything in the harness that calls one of these, or
# calls a harness name that does, must be in PROCESS_STARTERS.
STARTING_CALLS = {
    "subprocess.Popen",
    "subprocess.run",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "webdriver.Chrome",
}


def names_used(definition: ast.AST) -> set[str]:
    """The names a definition's code uses (not its type annotations), and "<process>" when
    it calls one of STARTING_CALLS."""
    annotations = set()
    for node in ast.walk(definition):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            annotations.update(map(id, ast.walk(node.annotation)))
        elif isinstance(node, ast.FunctionDef) and node.returns is not None:
            annotations.update(map(id, ast.walk(node.returns)))
    names = set()
    for node in ast.walk(definition):
        if id(node) in annotations:
            continue
        if isinstance(node, ast.Call) and ast.unparse(node.func) in STARTING_CALLS:
            names.add("<process>")
        elif isinstance(node, ast.Name):
            names.add(node.id)
    return names


def fixture_name(definition: ast.AST) -> str | None:
    for decorator in getattr(definition, "decorator_list", []):
        call = decorator if isinstance(decorator, ast.Call) else None
        if ast.unparse(call.func if call else decorator) == "pytest.fixture":
            named = [kw.value.value for kw in (call.keywords if call else []) if kw.arg == "name"]
            return named[0] if named else definition.name
    return None


def test_every_harness_name_that_starts_a_process_is_listed():
    definitions = {}  # "module.name" -> its top-level function or class
    for path in (TESTS / "harness").glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                definitions[f"tests.harness.{path.stem}.{node.name}"] = node
    uses = {qualified: names_used(node) for qualified, node in definitions.items()}

    # Names are matched by their last part: harness modules import each other by name.
    starting: set[str] = set()
    while True:
        reached = {"<process>"} | {qualified.rsplit(".", 1)[1] for qualified in starting}
        found = {qualified for qualified, names in uses.items() if names & reached}
        if found <= starting:
            break
        starting |= found

    listed = {f"{module}.{name}" for module, names in PROCESS_STARTERS.items() for name in names}
    assert starting == listed
    fixtures = {fixture_name(definitions[qualified]) for qualified in starting} - {None}
    assert fixtures == PROCESS_FIXTURES.keys()
