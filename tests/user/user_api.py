"""Helpers of the user service tests: the user app in-process, callers with access tokens minted
by the auth runtime's issuer (with the ``perms`` a tenant role carries), profiles and directory
entries written straight through the repositories."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx
from fastapi import FastAPI

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.tokens import publish_jwks
from storage.db import transaction
from storage.users.directory import DirectoryRepository, name_text
from storage.users.repository import ProfileRepository
from tests.in_process import in_process_client
from workflows.tenant.permissions import built_in_permissions


def role_permissions(role: str | None) -> list[str]:
    permissions = built_in_permissions(role) if role else None
    return sorted(p.value for p in permissions) if permissions else []


@dataclass
class UserApi:
    app: FastAPI
    runtime: AuthRuntime
    resources: Resources

    def token(
        self,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID | None,
        role: str | None = None,
        permissions: Sequence[str] | None = None,
    ) -> str:
        return self.runtime.issuer.access_token(
            user_id=str(user_id),
            session_id=str(uuid.uuid4()),
            tenant_id=str(tenant_id) if tenant_id else None,
            roles=[role] if role else [],
            auth_methods=["pwd"],
            permissions=list(permissions) if permissions is not None else role_permissions(role),
        )

    @asynccontextmanager
    async def client(
        self,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID | None = None,
        role: str | None = None,
        permissions: Sequence[str] | None = None,
    ) -> AsyncIterator[httpx.AsyncClient]:
        await publish_jwks(
            self.resources.redis,
            self.resources.redis_keys,
            "user-http-tests",
            self.runtime.keys.jwks(),
        )
        async with in_process_client(self.app, base_url="http://user") as client:
            token = self.token(user_id, tenant_id, role, permissions)
            client.headers["authorization"] = f"Bearer {token}"
            yield client

    async def profile(
        self,
        display_name: str = "Test Person",
        *,
        email: str | None = None,
        user_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        user_id = user_id or uuid.uuid4()
        async with transaction(self.resources.database) as db:
            await ProfileRepository(db).create(
                id_=user_id,
                email=email or f"u-{user_id.hex[:10]}@example.com",
                display_name=display_name,
                idempotency_key=f"test:{user_id}",
            )
        return user_id

    async def member(
        self,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        role: str = "member",
        *,
        status: str = "active",
        joined_at: datetime | None = None,
    ) -> None:
        """``user_id`` in ``tenant_id``'s directory copy, names from their profile."""
        async with transaction(self.resources.database, tenant_id) as db:
            profile = await ProfileRepository(db).get(user_id)
            await DirectoryRepository(db, tenant_id).upsert(
                user_id,
                role=role,
                status=status,
                joined_at=joined_at,
                display_name=profile.display_name if profile else "",
                email=profile.email if profile else "",
                search_name=(
                    name_text(profile.display_name, profile.given_name, profile.family_name)
                    if profile
                    else ""
                ),
            )


@dataclass
class Team:
    """A tenant in the directory copy: an owner, an admin, a member and a viewer."""

    tenant_id: uuid.UUID
    owner: uuid.UUID
    admin: uuid.UUID
    member: uuid.UUID
    viewer: uuid.UUID


async def seed_team(api: UserApi, label: str = "") -> Team:
    tenant_id = uuid.uuid4()
    ids = {}
    for role in ("owner", "admin", "member", "viewer"):
        user_id = await api.profile(f"{role.title()} {label}{tenant_id.hex[:4]}")
        await api.member(tenant_id, user_id, role)
        ids[role] = user_id
    return Team(tenant_id, **ids)
