"""Readiness follows its dependencies: 503 naming Redis while it is down, 200 once it is back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common.settings import ServiceName
from services.devstack.ports import free_port, wait_for_http
from services.devstack.processes import ManagedProcess
from services.devstack.redis import start_redis
from tests.support import Infra, start_service


@pytest.fixture
def own_redis(infra: Infra, tmp_path) -> Iterator[tuple[int, list[ManagedProcess]]]:  # type: ignore[no-untyped-def]
    port = free_port()
    holder = [start_redis(tmp_path, port, echo=False, die_with_parent=True)]
    yield port, holder
    holder[0].stop()


def _start_on_own_redis(
    infra: Infra, redis_port: int, service: ServiceName, log_dir: Path
) -> tuple[ManagedProcess, str]:
    """``service`` alone (HTTP only) on the test's own Redis; its process and base URL."""
    http_port = free_port()
    env = {
        **infra.env,
        "ADX_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        f"ADX_{service.value.upper()}_PORT": str(http_port),
    }
    process = start_service(service, env, log_dir, mode="http", name=f"{service.value}-own-redis")
    return process, f"http://127.0.0.1:{http_port}"


async def _ready(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(url)


async def _wait_status(url: str, status: int, timeout: float = 20) -> httpx.Response:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await _ready(url)
        if response.status_code == status or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.3)


async def test_ready_goes_503_when_redis_stops_and_200_when_it_returns(
    infra: Infra,
    own_redis: tuple[int, list[ManagedProcess]],
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    redis_port, holder = own_redis
    service, base = _start_on_own_redis(infra, redis_port, ServiceName.user, tmp_path)
    url = f"{base}/health/ready"
    try:
        await asyncio.to_thread(wait_for_http, url, 60, process=service)

        holder[0].stop()
        down = await _wait_status(url, 503)
        assert down.status_code == 503, down.text
        assert down.json()["checks"]["redis"].startswith("error")
        assert down.json()["checks"]["postgres"] == "ok"
        assert down.json()["checks"]["temporal"] == "ok"
        live = await _ready(url.replace("ready", "live"))
        assert live.status_code == 200, "liveness must not depend on Redis"

        holder[0] = await asyncio.to_thread(
            start_redis, tmp_path, redis_port, echo=False, die_with_parent=True
        )
        up = await _wait_status(url, 200)
        assert up.status_code == 200, up.text
    finally:
        service.stop()


async def test_requests_get_503_not_500_while_redis_is_down_and_work_once_it_returns(
    infra: Infra,
    own_redis: tuple[int, list[ManagedProcess]],
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """Login needs Redis (throttle, deny-list): without it the answer is a retryable 503."""
    redis_port, holder = own_redis
    service, base = _start_on_own_redis(infra, redis_port, ServiceName.auth, tmp_path)
    login = {"email": "nobody@example.com", "password": "not-the-password-123"}
    try:
        await asyncio.to_thread(wait_for_http, f"{base}/health/ready", 60, process=service)
        holder[0].stop()
        async with httpx.AsyncClient(base_url=base, timeout=20) as client:
            down = await client.post("/auth/login", json=login)
            assert down.status_code == 503, down.text
            assert down.headers["content-type"].startswith("application/problem+json")
            assert down.headers["retry-after"].isdigit()
            assert "trace" not in down.text.lower()

            holder[0] = await asyncio.to_thread(
                start_redis, tmp_path, redis_port, echo=False, die_with_parent=True
            )
            back = await client.post("/auth/login", json=login)
            assert back.status_code == 401, back.text
    finally:
        service.stop()
