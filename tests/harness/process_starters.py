"""What in tests/harness starts a real process: the one list the `e2e` marker follows.

tests/conftest.py marks every test that requests one of PROCESS_FIXTURES as e2e, and fails
the collection of a test module that uses one of PROCESS_STARTERS (imported at module level
or inside a function) without being marked e2e, so `pytest -m "not e2e"` never starts a
process and the marker cannot be forgotten. A harness function that starts a process, or
calls one that does, belongs here: tests/test_markers.py fails until it is listed.
"""

from __future__ import annotations

import ast

# Fixture name -> what it starts.
PROCESS_FIXTURES = {
    "stack": "gunicorn and Celery workers on a migrated database (tests.harness.fixtures)",
    "collector": "rotel-agent, an OTLP collector (tests.harness.telemetry_fixtures)",
}

# Harness module -> the names in it that start a process, directly or through another one.
PROCESS_STARTERS = {
    "tests.harness.servers": frozenset(
        {
            "start_process",
            "manage",
            "prepared_stack",
            "migrated_template",
            "Stack",
            "create_superuser",
            "api_token",
            "admin_session",
        }
    ),
    "tests.harness.collector": frozenset(
        {"Collector", "running_collector", "_started_on_free_ports"}
    ),
    "tests.harness.prometheus": frozenset({"start_prometheus"}),
    "tests.harness.alertmanager": frozenset({"start_alertmanager"}),
    "tests.harness.browser": frozenset({"headless_chromium"}),
    "tests.harness.jobs": frozenset({"queue_job"}),
    "tests.harness.proxy": frozenset({"start_proxy"}),
    "tests.harness.fixtures": frozenset({"stack"}),
    "tests.harness.telemetry_fixtures": frozenset({"collector_fixture"}),
    # Namespaces and links are made by `ip` commands: as root, and only in e2e tests.
    "tests.harness.netns": frozenset(
        {
            "ip",
            "unavailable_reason",
            "Host",
            "Network",
            "host_network",
            "remove_leftovers",
            "_namespaces",
            "_pids_in",
            "_kill_all_in",
            "_remove_namespace",
            "_unused_subnet",
        }
    ),
    "tests.harness.haproxy": frozenset({"start_haproxy"}),
    "tests.harness.several_hosts": frozenset(
        {"several_hosts", "SeveralHosts", "_collector", "_host_env", "_start_redis"}
    ),
    "tests.harness.web_servers": frozenset({"start_web_server"}),
    "tests.harness.tls": frozenset({"make_certificates", "_make"}),
    "tests.harness.tls_proxy": frozenset({"TlsProxy", "running_tls_proxy"}),
}


def process_starters_used(source: str) -> set[str]:
    """The PROCESS_STARTERS a module's source uses, as 'module.name': imported by name
    (`from tests.harness.servers import prepared_stack`, anywhere in the module) or reached
    through an imported harness module (`servers.prepared_stack`)."""
    tree = ast.parse(source)
    used: set[str] = set()
    module_aliases: dict[str, str] = {}  # local name -> harness module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in PROCESS_STARTERS:
            starters = PROCESS_STARTERS[node.module]
            for alias in node.names:
                names = starters if alias.name == "*" else starters & {alias.name}
                used.update(f"{node.module}.{name}" for name in names)
        elif isinstance(node, ast.ImportFrom) and node.module == "tests.harness":
            for alias in node.names:
                module_aliases[alias.asname or alias.name] = f"tests.harness.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in PROCESS_STARTERS:
                    module_aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            module = module_aliases.get(ast.unparse(node.value))
            if module in PROCESS_STARTERS and node.attr in PROCESS_STARTERS[module]:
                used.add(f"{module}.{node.attr}")
    return used
