"""Helpers of the SCIM tests: a tenant's team in the directory copy, a SCIM token issued by its
owner through the real route, and an httpx client carrying it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from tests.in_process import in_process_client
from tests.user.user_api import Team, UserApi, seed_team

SCIM_JSON = "application/scim+json"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class ScimTenant:
    team: Team
    token: str
    token_id: uuid.UUID


async def issue_token(api: UserApi, team: Team, name: str = "okta") -> tuple[str, uuid.UUID]:
    async with api.client(team.owner, team.tenant_id, "owner") as client:
        answer = await client.post(f"/tenants/{team.tenant_id}/scim-tokens", json={"name": name})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return body["token"], uuid.UUID(body["id"])


async def scim_tenant(api: UserApi, label: str = "") -> ScimTenant:
    team = await seed_team(api, label)
    token, token_id = await issue_token(api, team)
    return ScimTenant(team, token, token_id)


@asynccontextmanager
async def scim_client(api: UserApi, token: str | None) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(api.app, base_url="http://user") as client:
        if token is not None:
            client.headers["authorization"] = f"Bearer {token}"
        yield client


def assert_scim_error(answer: httpx.Response, status: int, scim_type: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == SCIM_JSON
    body = answer.json()
    assert body["schemas"] == [ERROR_URN] and body["status"] == str(status), body
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
