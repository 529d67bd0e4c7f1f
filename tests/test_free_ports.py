"""The harness's free ports (tests.harness.servers): below the kernel's ephemeral range, where
no outgoing connection takes one between the probe and the server's bind, and never the
same port twice in one test process, where a server handed one may not have bound it yet."""

from __future__ import annotations

import socket

from tests.harness.servers import _ephemeral_low, free_port, free_port_range


def test_ports_are_below_the_ephemeral_range_and_never_handed_out_twice():
    ports = [free_port() for _ in range(300)]
    ranges = [free_port_range(3) for _ in range(50)]
    every = ports + [port for block in ranges for port in block]

    assert len(set(every)) == len(every)
    assert all(10_000 <= port < _ephemeral_low() for port in every)
    assert all(block == list(range(block[0], block[0] + 3)) for block in ranges)


def test_a_port_handed_out_can_be_bound():
    port = free_port()
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
