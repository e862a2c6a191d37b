"""Auth fixtures: the auth app in-process (ASGI) over real PostgreSQL and Redis, and users."""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from services.auth.passwords import hash_password
from services.auth.runtime import AuthRuntime, runtime_for
from services.auth.service import create_auth_app
from services.common.resources import Resources
from storage.auth.claims import ClaimsRepository
from storage.auth.models import Credential
from storage.db import transaction

PASSWORD = "correct horse battery staple"


@dataclass
class AuthUser:
    id: uuid.UUID
    email: str
    password: str


@pytest.fixture(scope="session")
def auth_runtime(auth_resources: Resources) -> AuthRuntime:
    return runtime_for(auth_resources)


def random_ip() -> str:
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


@asynccontextmanager
async def in_process_auth_api(
    resources: Resources, task_queue_prefix: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The auth API in-process from a random client address (throttling is per client).

    ``task_queue_prefix`` points the workflows it starts at other workers (the in-process ones).
    """
    app = create_auth_app(resources)
    if task_queue_prefix is not None:
        runtime: AuthRuntime = app.state.auth
        local = runtime.settings.model_copy(update={"task_queue_prefix": task_queue_prefix})
        app.state.auth = dataclasses.replace(runtime, settings=local)
    transport = httpx.ASGITransport(app=app, client=(random_ip(), 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
        yield client


@pytest.fixture
async def auth_client(auth_resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    """The auth API in-process; each test is its own client address."""
    async with in_process_auth_api(auth_resources) as client:
        yield client


async def create_user(
    runtime: AuthRuntime,
    *,
    verified: bool = True,
    password: str = PASSWORD,
    tenant_roles: dict[uuid.UUID, list[str]] | None = None,
) -> AuthUser:
    user = AuthUser(uuid.uuid4(), f"u-{uuid.uuid4().hex[:12]}@example.com", password)
    async with transaction(runtime.resources.sessions) as db:
        db.add(
            Credential(
                id=user.id,
                email=user.email,
                password_hash=await hash_password(password),
                email_verified=verified,
                idempotency_key=f"test:{user.id}",
            )
        )
        await db.flush()
        for tenant, roles in (tenant_roles or {}).items():
            await ClaimsRepository(db).put(user.id, tenant, roles)
    return user


@pytest.fixture
async def user(auth_runtime: AuthRuntime) -> AuthUser:
    return await create_user(auth_runtime)


async def login(client: httpx.AsyncClient, user: AuthUser, **extra: object) -> dict[str, object]:
    response = await client.post(
        "/auth/login", json={"email": user.email, "password": user.password, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()["tokens"]  # type: ignore[no-any-return]
