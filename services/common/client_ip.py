"""The caller's address, believing X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

from starlette.requests import HTTPConnection


def client_ip(connection: HTTPConnection, trusted_proxies: str) -> str | None:
    """The caller's address; behind a trusted proxy (``trusted_proxies`` is comma-separated), the
    last hop it appended to X-Forwarded-For (earlier hops are client-supplied and cannot be
    trusted). Works for HTTP requests and WebSocket handshakes alike."""
    peer = connection.client.host if connection.client else None
    trusted = {p.strip() for p in trusted_proxies.split(",")}
    forwarded = connection.headers.get("x-forwarded-for")
    if peer in trusted and forwarded:
        hop = forwarded.split(",")[-1].strip()
        if 0 < len(hop) <= 64:
            return hop
    return peer
