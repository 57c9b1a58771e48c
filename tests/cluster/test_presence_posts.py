"""Presence across nodes for staff who hold posts (the case every real user is in)."""

from __future__ import annotations

import subprocess

import pytest

from tests.cluster.conftest import BIN
from tests.conftest import PASSWORD

pytestmark = pytest.mark.slow


def _cli(cluster, *args: str) -> None:
    subprocess.run([str(BIN), *args], env=cluster.env, check=True, capture_output=True)


async def test_staff_of_one_unit_see_each_other_come_online_across_nodes(cluster):
    a_node, b_node = await cluster.node("a"), await cluster.node("b")
    _cli(cluster, "unit", "add", "dy-xfj", "市信访局")
    for name in ("alice", "bob"):
        _cli(cluster, "user", "add", name, "--password", PASSWORD, "--unit", "dy-xfj")
    a = await cluster.client(a_node, await cluster.login(a_node, "alice"))
    b = await cluster.client(b_node, await cluster.login(b_node, "bob"))
    listed = await a.call("presence:list", {})
    bob = next(u for g in listed["units"] for u in g["users"] if u["username"] == "bob")
    pushed = await a.wait_for("presence", lambda p: p["user_id"] == bob["id"], timeout=8)
    assert pushed["status"] == "online"
    await b.disconnect()
    await a.wait_for("presence", lambda p: p["user_id"] == bob["id"] and p["status"] == "offline", timeout=8)
