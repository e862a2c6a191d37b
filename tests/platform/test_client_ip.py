"""ADX_TRUSTED_PROXIES takes addresses and CIDR ranges: X-Forwarded-For is believed only from a
peer inside one of them, and a bad entry stops the process naming the setting."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from services.common.client_ip import client_ip
from services.common.settings import Settings
from tests.service_runs import run_service

FORWARDED = "198.51.100.1, 203.0.113.9"  # the first hop is client-supplied, the last the proxy's


async def seen_address(peer: str, trusted_proxies: str, forwarded: str = FORWARDED) -> str:
    """The address ``client_ip`` reports for a real request from ``peer`` through an app."""

    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(client_ip(request, trusted_proxies) or "")

    app = Starlette(routes=[Route("/", echo)])
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/", headers={"x-forwarded-for": forwarded})
    return response.text


async def test_a_peer_inside_a_trusted_range_is_believed() -> None:
    assert await seen_address("10.244.3.17", "127.0.0.1,10.244.0.0/16") == "203.0.113.9"


async def test_a_peer_outside_every_trusted_range_is_not() -> None:
    assert await seen_address("10.245.0.1", "127.0.0.1,10.244.0.0/16") == "10.245.0.1"
    assert await seen_address("10.244.0.9", "10.244.0.8") == "10.244.0.9"  # exact address


async def test_ipv6_ranges_and_ipv4_mapped_peers() -> None:
    assert await seen_address("fd00:10::7", "fd00:10::/64") == "203.0.113.9"
    assert await seen_address("fd00:11::7", "fd00:10::/64") == "fd00:11::7"
    # A dual-stack socket reports an IPv4 proxy as ::ffff:a.b.c.d.
    assert await seen_address("::ffff:10.244.1.2", "10.244.0.0/16") == "203.0.113.9"


async def test_a_peer_that_is_no_address_is_not_trusted() -> None:
    assert await seen_address("testclient", "0.0.0.0/0,::/0") == "testclient"


@pytest.mark.parametrize("value", ["10.0.0.0/33", "gateway", "10.244.1.7/16", "127.0.0.1,::1,x"])
def test_a_bad_entry_is_refused_naming_it(value: str) -> None:
    with pytest.raises(ValidationError, match="trusted_proxies") as caught:
        Settings(trusted_proxies=value)
    bad = value.split(",")[-1]
    assert repr(bad) in str(caught.value)


def test_a_bad_entry_stops_the_process_naming_the_setting() -> None:
    result = run_service({"ADX_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/40"})

    assert result.returncode == 2
    assert "ADX_TRUSTED_PROXIES" in result.stderr and "10.0.0.0/40" in result.stderr
    assert "Traceback" not in result.stderr
