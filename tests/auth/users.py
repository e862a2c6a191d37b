"""Test users of the auth service: a verified account written straight to its tables (with
claims in tenants if asked), and logging one in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from services.auth.passwords import hash_password
from services.auth.runtime import AuthRuntime
from storage.auth.claims import ClaimsRepository
from storage.auth.models import Credential
from storage.db import transaction

PASSWORD = "correct horse battery staple"


@dataclass
class AuthUser:
    id: uuid.UUID
    email: str
    password: str


async def create_user(
    runtime: AuthRuntime,
    *,
    verified: bool = True,
    password: str = PASSWORD,
    tenant_roles: dict[uuid.UUID, list[str]] | None = None,
) -> AuthUser:
    user = AuthUser(uuid.uuid4(), f"u-{uuid.uuid4().hex[:12]}@example.com", password)
    async with transaction(runtime.resources.database) as db:
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


async def login(client: httpx.AsyncClient, user: AuthUser, **extra: object) -> dict[str, object]:
    response = await client.post(
        "/auth/login", json={"email": user.email, "password": user.password, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()["tokens"]  # type: ignore[no-any-return]
