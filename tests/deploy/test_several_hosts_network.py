"""The test network of the several-host tests (tests/harness/netns.py) stays its own: hosts
reach each other and the root namespace's end, nothing else; everything of a run is removed
when it ends, even when it fails; a later run removes the leftovers of a run that was
killed, and leaves a run still in progress alone."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys

import pytest

from tests.harness import netns

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _needs_namespaces():
    if reason := netns.unavailable_reason():
        pytest.skip(reason)


def connect(host: netns.Host | None, address: str, port: int) -> str:
    """Connect from HOST (None: the root namespace) to ADDRESS:PORT; "ok" or the error."""
    code = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(({address!r}, {port}), timeout=3).close(); print('ok')\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__, exc.errno)\n"
    )
    command = [sys.executable, "-c", code]
    done = subprocess.run(
        host.command(*command) if host else command, capture_output=True, text=True, timeout=30
    )
    return done.stdout.strip() or done.stderr


def our_names() -> set[str]:
    names = set(netns.ip("netns", "list").split())
    links = {link["ifname"] for link in json.loads(netns.ip("-j", "link", "show"))}
    return {n for n in names | links if n.startswith(netns.PREFIX)}


def test_hosts_reach_each_other_and_nothing_else_and_are_gone_afterwards():
    before = our_names()
    with pytest.raises(RuntimeError, match="the test failed"):
        with netns.host_network() as network:
            a, b = network.add_host("a"), network.add_host("b")
            assert ipaddress.ip_address(a.address) in netns.TEST_RANGE
            server = subprocess.Popen(
                b.command(sys.executable, "-m", "http.server", "--bind", b.address, "8000"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(100):
                if connect(None, b.address, 8000) == "ok":
                    break
            assert connect(a, b.address, 8000) == "ok"
            assert server.pid in b.pids()
            # No route out of the segment: any other address is unreachable at once
            # (ENETUNREACH, 101), without a packet leaving the host.
            assert connect(a, "192.0.2.1", 80) == "OSError 101"
            # Each host has a loopback of its own: B's server is not on A's.
            assert connect(a, "127.0.0.1", 8000) == "ConnectionRefusedError 111"
            names = our_names() - before
            assert len([n for n in names if n.endswith(("-a", "-b", "-switch"))]) == 3
            raise RuntimeError("the test failed")
    assert server.wait(10) is not None  # killed with its host
    assert our_names() == before


def test_a_later_run_removes_what_a_killed_run_left_and_spares_a_live_one():
    # A run whose test process is gone (a pid that cannot be alive), with a process inside.
    dead = f"{netns.PREFIX}-{2**22 + 1}-{os.urandom(3).hex()}-web-a"
    netns.ip("netns", "add", dead)
    orphan = subprocess.Popen(["ip", "netns", "exec", dead, "sleep", "600"])
    try:
        with netns.host_network() as live:  # removes the leftovers first
            assert dead not in netns.ip("netns", "list")
            assert orphan.wait(10) == -9
            live.add_host("web-a")
            # What a parallel run starting now would do: this run's hosts stay.
            assert netns.remove_leftovers() == []
            assert live.hosts["web-a"].netns in netns.ip("netns", "list")
    finally:
        if orphan.poll() is None:
            orphan.kill()
        netns.ip("netns", "delete", dead, check=False)
    assert dead not in netns.ip("netns", "list")
