"""The client's address behind trusted proxies, and the login limits that use it: an
office behind one address logs in at once; one person's guesses lock out only that
account and that address, never the whole city behind the proxy."""

from __future__ import annotations

import asyncio

import pytest

from hub.client_address import client_address, parse_networks
from hub.config import Config

NGINX = parse_networks(["127.0.0.1", "::1", "10.1.0.0/16"])


@pytest.mark.parametrize(
    ("peer", "xff", "want"),
    [
        ("127.0.0.1", ["203.0.113.7"], "203.0.113.7"),  # nginx names the client
        ("127.0.0.1", ["6.6.6.6, 203.0.113.7"], "203.0.113.7"),  # a spoofed hop the client wrote itself
        ("127.0.0.1", ["6.6.6.6", "203.0.113.7, 10.1.2.3"], "203.0.113.7"),  # two proxies, two header lines
        ("127.0.0.1", ["10.1.2.3, 10.1.2.4"], "10.1.2.3"),  # every hop a proxy: the farthest one
        ("127.0.0.1", ["garbage, 203.0.113.7"], "203.0.113.7"),
        ("127.0.0.1", ["203.0.113.7, garbage"], "127.0.0.1"),  # a trusted proxy would not write that: stop
        ("127.0.0.1", ["[2001:db8::1]:5555"], "2001:db8::1"),
        ("127.0.0.1", ["203.0.113.7:4711"], "203.0.113.7"),
        ("::ffff:127.0.0.1", ["203.0.113.7"], "203.0.113.7"),  # a v4 peer on a dual-stack socket
        ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),  # not from a proxy: the header is ignored
        ("127.0.0.1", [], "127.0.0.1"),
    ],
)
def test_client_address(peer, xff, want):
    assert client_address(peer, xff, NGINX) == want


def test_no_trusted_proxies_means_the_peer():
    assert client_address("127.0.0.1", ["203.0.113.7"], ()) == "127.0.0.1"


def test_the_setting_reads_a_comma_list_and_refuses_a_typo(monkeypatch):
    monkeypatch.setenv("CHANGTONG_TRUSTED_PROXIES", "10.0.0.2, 10.0.0.0/24")
    assert Config().trusted_proxies == ["10.0.0.2", "10.0.0.0/24"]
    monkeypatch.setenv("CHANGTONG_TRUSTED_PROXIES", "10.0.0.300")
    with pytest.raises(ValueError):
        Config()
    monkeypatch.setenv("CHANGTONG_TRUSTED_PROXIES", "")
    assert Config().trusted_proxies == []


# ---- through the hub (the test client is on 127.0.0.1: a trusted proxy by default) ------

LOGIN = "/api/v1/auth/login"
DEFAULT_LIMITS = {"login_attempts_per_address": Config.model_fields["login_attempts_per_address"].default}


async def _login(hub, username: str, password: str, address: str | None = None) -> int:
    headers = {"X-Forwarded-For": address} if address else {}
    status, _ = await hub.request("POST", LOGIN, json={"username": username, "password": password}, headers=headers)
    return status


@pytest.mark.parametrize("hub_settings", [DEFAULT_LIMITS], ids=["default-limits"])
async def test_a_hundred_people_behind_one_address_log_in_at_once(hub):
    for i in range(100):
        await hub.user(f"staff{i:03d}", f"职员{i}")
    statuses = await asyncio.gather(*[_login(hub, f"staff{i:03d}", "secret-pw-1", "198.51.100.20") for i in range(100)])
    assert statuses == [200] * 100


@pytest.mark.parametrize("hub_settings", [DEFAULT_LIMITS], ids=["default-limits"])
async def test_guesses_lock_out_their_account_and_address_only(hub):
    limit = hub.config.login_attempts_per_address
    await hub.user("zhangsan", "张三")
    await hub.user("lisi", "李四")
    # one person at the office keeps guessing at their own account
    for _ in range(hub.config.login_attempts_per_account):
        assert await _login(hub, "zhangsan", "guess", "198.51.100.20") == 401
    assert await _login(hub, "zhangsan", "secret-pw-1", "198.51.100.20") == 429  # that account
    assert await _login(hub, "lisi", "secret-pw-1", "198.51.100.20") == 200  # the office carries on
    # someone at another address tries many accounts until that address is blocked
    for i in range(limit):
        assert await _login(hub, f"nobody{i}", "guess", "203.0.113.66") == 401
    assert await _login(hub, "lisi", "secret-pw-1", "203.0.113.66") == 429
    # ... and nobody else in the city behind the same proxy notices
    assert await _login(hub, "lisi", "secret-pw-1", "198.51.100.20") == 200
    assert await _login(hub, "lisi", "secret-pw-1") == 200  # the proxy's own address is not blocked either


@pytest.mark.parametrize("hub_settings", [{**DEFAULT_LIMITS, "trusted_proxies": []}], ids=["no-proxies"])
async def test_a_forged_header_from_an_untrusted_peer_changes_nothing(hub):
    await hub.user("lisi", "李四")
    for i in range(hub.config.login_attempts_per_address):  # each "from" a different forged address
        assert await _login(hub, f"nobody{i}", "guess", f"203.0.113.{i + 1}") == 401
    assert await _login(hub, "lisi", "secret-pw-1", "198.51.100.99") == 429  # it was one peer all along
