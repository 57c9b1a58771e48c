"""The client's address behind reverse proxies (pure).

`request.remote` is the peer of the TCP connection: behind the nginx of examples/ that is
nginx, for every person in the city. The client's own address is in `X-Forwarded-For`,
which anyone can write, so it is believed only as far as it was written by proxies this
hub trusts (`trusted_proxies`): read from the right, each hop that a trusted proxy
appended names the next one, and the first address that is not a trusted proxy is the
client. A peer that is not a trusted proxy is the client itself, whatever its headers say.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

__all__ = ["Networks", "client_address", "parse_networks"]

Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def parse_networks(entries: Iterable[str]) -> Networks:
    """`10.0.0.5`, `10.0.0.0/8`, `::1` → networks; raises ValueError on a bad entry."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Networks) -> bool:
    return any(ip.version == n.version and ip in n for n in networks)


def client_address(peer: str | None, forwarded_for: Sequence[str], networks: Networks) -> str | None:
    """The client's address: `peer` unless it is a trusted proxy, then the first
    untrusted hop of `X-Forwarded-For` (all its header lines, in order) from the right.
    A hop that is not an address ends the walk at the last trusted one."""
    ip = _ip(peer) if peer else None
    if ip is None or not networks or not _trusted(ip, networks):
        return peer
    hops = [h for line in forwarded_for for h in line.split(",") if h.strip()]
    client = ip
    for hop in reversed(hops):
        hop_ip = _ip(hop)
        if hop_ip is None:
            break
        client = hop_ip
        if not _trusted(hop_ip, networks):
            break
    return str(client)
