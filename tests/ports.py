"""Ports for the servers tests start (hub processes, exchange nodes).

`bind(("127.0.0.1", 0))` hands out a port from the kernel's ephemeral range (32768–60999
on Linux), the range the tests' own outgoing connections take their local ports from:
a port free when picked could be a client connection's by the time the server bound
it (seen in CI: EADDRINUSE for an exchange node). These ports come from below that
range, at random, each checked free when picked."""

from __future__ import annotations

import random
import socket

LOW, HIGH = 20000, 32000


def free_port() -> int:
    for _ in range(500):
        port = random.randint(LOW, HIGH)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port between {LOW} and {HIGH}")
