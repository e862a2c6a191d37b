"""Auth fixtures: the auth runtime and app in-process (ASGI) over real PostgreSQL and Redis, and a
fresh verified user per test (tests/auth/users.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.auth.runtime import AuthRuntime, runtime_for
from services.common.resources import Resources
from tests.auth.users import AuthUser, create_user
from tests.in_process import in_process_auth_api


@pytest.fixture(scope="session")
def auth_runtime(auth_resources: Resources) -> AuthRuntime:
    return runtime_for(auth_resources)


@pytest.fixture
async def auth_client(auth_resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    """The auth API in-process; each test is its own client address."""
    async with in_process_auth_api(auth_resources) as client:
        yield client


@pytest.fixture
async def user(auth_runtime: AuthRuntime) -> AuthUser:
    return await create_user(auth_runtime)
