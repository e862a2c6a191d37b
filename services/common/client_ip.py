"""The caller's address, believing X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import HTTPConnection

from services.common.settings import IPNetwork, parse_networks

#: Longest X-Forwarded-For hop taken as an address (anything longer is not one).
MAX_HOP_LENGTH = 64


@lru_cache(maxsize=8)
def trusted_networks(trusted_proxies: str) -> tuple[IPNetwork, ...]:
    """``ADX_TRUSTED_PROXIES`` parsed once (settings validated it at start)."""
    return parse_networks(trusted_proxies)


def is_trusted(peer: str | None, trusted_proxies: str) -> bool:
    """Whether ``peer`` lies in one of the trusted addresses or ranges; an IPv4 peer seen as
    IPv4-mapped IPv6 (``::ffff:10.0.0.1``, dual-stack sockets) counts as its IPv4 address."""
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False  # not an address (e.g. a Unix socket peer)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in trusted_networks(trusted_proxies))


def client_ip(connection: HTTPConnection, trusted_proxies: str) -> str | None:
    """The caller's address; behind a trusted proxy (``trusted_proxies``: comma-separated
    addresses and CIDR ranges), the last hop it appended to X-Forwarded-For (earlier hops are
    client-supplied and cannot be trusted). Works for HTTP requests and WebSocket handshakes."""
    peer = connection.client.host if connection.client else None
    forwarded = connection.headers.get("x-forwarded-for")
    if forwarded and is_trusted(peer, trusted_proxies):
        hop = forwarded.split(",")[-1].strip()
        if 0 < len(hop) <= MAX_HOP_LENGTH:
            return hop
    return peer
