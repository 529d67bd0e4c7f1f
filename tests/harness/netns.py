"""Several hosts on this machine, for end-to-end tests: each host is a network namespace with
one address, every host is plugged into one Ethernet segment (a bridge in a namespace of its
own, the "switch"), and one more link joins the root namespace to the segment, for the test
itself and the relays to the machine's own servers (PostgreSQL listens on the root
namespace's loopback, which no namespace can reach).

Addresses: one /24 of 198.18.0.0/15 per run. RFC 2544 sets that range aside for benchmark
networks and nobody routes it; the run takes a /24 that no interface of this machine uses
yet. A host has no default route, so nothing it sends can leave the segment.

Names: `omh-<pid of the test process>-<run id>-<role>`, so parallel runs never collide, and
a later run can tell a leftover (its test process is gone) from a namespace in use. Every
run removes the leftovers it finds, then its own namespaces when it ends, pass or fail.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "omh"
TEST_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
_OURS = re.compile(rf"^{PREFIX}-(\d+)-([0-9a-f]{{6}})-[a-z0-9-]+$")
_ROOT_LINK = re.compile(rf"^{PREFIX}([0-9a-f]{{6}})$")
# A namespace this old is a leftover even if a process of its creator's pid still runs (the
# pid was reused): no test run lasts this long.
_STALE_AFTER_S = 6 * 3600
# Held while a run picks its /24 and puts its address on the root link, so that two runs
# starting together never pick the same one.
_LOCK = Path("/run/lock/omh-subnets.lock")


class NetnsError(RuntimeError):
    """An `ip` command failed; the message is the command and what it printed."""


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    """Run `ip [-n NETNS] ARGS`; its stdout. NetnsError when it fails (and `check`)."""
    command = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise NetnsError(f"{' '.join(command)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def unavailable_reason() -> str | None:
    """Why this machine cannot build hosts as namespaces (a skip reason), or None."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (`ip netns add`); run the test as root"
    probe = f"{PREFIX}-{os.getpid()}-{secrets.token_hex(3)}-probe"
    try:
        ip("netns", "add", probe)
    except NetnsError as exc:
        return f"`ip netns add` is not permitted here: {exc}"
    finally:
        ip("netns", "delete", probe, check=False)
    return None


@dataclass
class Host:
    """One host: a network namespace with the address `address` on its `eth0`."""

    role: str
    netns: str
    address: str

    def command(self, *args: str) -> list[str]:
        """ARGS run inside this host (`ip netns exec` execs them: the pid is the command's)."""
        return ["ip", "netns", "exec", self.netns, *args]

    def pids(self) -> list[int]:
        """Every process running in this host."""
        return _pids_in(self.netns)

    def kill(self, timeout: float = 10) -> list[int]:
        """SIGKILL every process of this host, as a power cut would; return their pids once
        they are gone."""
        return _kill_all_in(self.netns, timeout)

    def disconnect(self) -> None:
        """Take the host's link down: nothing it had open answers any more, not even a reset."""
        ip("link", "set", "dev", "eth0", "down", netns=self.netns)


@dataclass
class Network:
    """The segment of one run, and its hosts."""

    run: str
    subnet: ipaddress.IPv4Network
    switch: str
    root_link: str
    root_address: str
    hosts: dict[str, Host] = field(default_factory=dict)

    def add_host(self, role: str) -> Host:
        """A new host named ROLE on the segment, with the next free address."""
        assert role not in self.hosts, role
        index = len(self.hosts)
        address = str(self.subnet.network_address + 10 + index)
        netns = _namespace_name(self.run, role)
        ip("netns", "add", netns)
        host = Host(role=role, netns=netns, address=address)
        self.hosts[role] = host
        port = f"h{index}"
        # Both ends made where they belong: no name of this run ever appears in the root
        # namespace, where parallel runs would collide.
        ip(
            *("link", "add", "name", "eth0", "netns", netns, "type", "veth"),
            *("peer", "name", port, "netns", self.switch),
        )
        ip("link", "set", port, "master", "br0", "up", netns=self.switch)
        ip("addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0", netns=netns)
        ip("link", "set", "eth0", "up", netns=netns)
        # Each host's own loopback, for what only the host itself may reach.
        ip("link", "set", "lo", "up", netns=netns)
        return host

    def teardown(self) -> None:
        """Kill whatever still runs in the hosts, then remove every namespace and link of
        this run. Safe to call twice, and after a half-built network."""
        for host in self.hosts.values():
            _remove_namespace(host.netns)
        _remove_namespace(self.switch)
        ip("link", "delete", self.root_link, check=False)  # gone with the switch, normally


@contextlib.contextmanager
def host_network() -> Iterator[Network]:
    """A segment of this run's own (hosts are added with `add_host`), removed at the end
    whatever happens; the leftovers of earlier runs are removed first."""
    remove_leftovers()
    run = secrets.token_hex(3)
    switch = _namespace_name(run, "switch")
    root_link = f"{PREFIX}{run}"
    network: Network | None = None
    try:
        ip("netns", "add", switch)
        ip("link", "add", "name", "br0", "type", "bridge", netns=switch)
        ip("link", "set", "br0", "up", netns=switch)
        ip(
            *("link", "add", "name", root_link, "type", "veth"),
            *("peer", "name", "root", "netns", switch),
        )
        ip("link", "set", "root", "master", "br0", "up", netns=switch)
        with _subnet_lock():
            subnet = _unused_subnet()
            root_address = str(subnet.network_address + 1)
            ip("addr", "add", f"{root_address}/{subnet.prefixlen}", "dev", root_link)
        ip("link", "set", root_link, "up")
        network = Network(run, subnet, switch, root_link, root_address)
        yield network
    finally:
        if network is not None:
            network.teardown()
        else:
            _remove_namespace(switch)
            ip("link", "delete", root_link, check=False)


def remove_leftovers() -> list[str]:
    """Remove the namespaces (and root links) of earlier runs whose test process is gone,
    killing what still runs in them; return their names. Namespaces of runs still in
    progress (parallel test runs) are left alone."""
    removed = []
    live_runs = set()
    for name in _namespaces():
        match = _OURS.match(name)
        if not match:
            continue
        pid, run = int(match.group(1)), match.group(2)
        if _alive(pid) and _age_s(name) < _STALE_AFTER_S:
            live_runs.add(run)
            continue
        _remove_namespace(name)
        removed.append(name)
    for link in json.loads(ip("-j", "link", "show") or "[]"):
        match = _ROOT_LINK.match(link.get("ifname", ""))
        if match and match.group(1) not in live_runs:
            ip("link", "delete", link["ifname"], check=False)
            removed.append(link["ifname"])
    return removed


def _namespace_name(run: str, role: str) -> str:
    return f"{PREFIX}-{os.getpid()}-{run}-{role}"


def _namespaces() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def _pids_in(netns: str) -> list[int]:
    out = ip("netns", "pids", netns, check=False)
    return [int(pid) for pid in out.split()]


def _kill_all_in(netns: str, timeout: float) -> list[int]:
    pids = _pids_in(netns)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while (left := _pids_in(netns)) and time.monotonic() < deadline:
        for pid in left:  # a child forked meanwhile
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    return pids


def _remove_namespace(netns: str) -> None:
    if netns not in _namespaces():
        return
    _kill_all_in(netns, timeout=10)
    ip("netns", "delete", netns, check=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _age_s(netns: str) -> float:
    try:
        return time.time() - Path("/run/netns", netns).stat().st_mtime
    except OSError:
        return 0.0


@contextlib.contextmanager
def _subnet_lock() -> Iterator[None]:
    _LOCK.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _unused_subnet() -> ipaddress.IPv4Network:
    """A random /24 of TEST_RANGE that overlaps no address of the root namespace."""
    used: list[ipaddress.IPv4Network] = []
    for link in json.loads(ip("-j", "addr", "show") or "[]"):
        for info in link.get("addr_info", []):
            if info.get("family") == "inet":
                used.append(ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", False))
    candidates = list(TEST_RANGE.subnets(new_prefix=24))
    for _ in range(200):
        subnet = candidates[secrets.randbelow(len(candidates))]
        if not any(subnet.overlaps(other) for other in used):
            return subnet
    raise NetnsError(f"no /24 of {TEST_RANGE} is free on this machine")
