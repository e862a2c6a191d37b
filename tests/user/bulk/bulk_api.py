"""Helpers of the bulk operation tests: a tenant with members made by the real tenant flows, the
user app pointed at a stack's workers (with the bulk settings a test wants), an upload, and
waiting for the run and reading its report."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.user.service import SPEC
from storage.db import transaction
from storage.tenants.models import Tenant
from storage.users.repository import ProfileRepository
from tests.auth.mail_flows import with_settings
from tests.auth.users import AuthUser, create_user
from tests.tenant.workflows.flows import change, invite, provisioned
from tests.tenant.workflows.stack import TenantStack
from tests.user.user_api import UserApi
from workflows.accounts.bulk_user_operation import (
    BulkUserOperationResult,
    BulkUserOperationWorkflow,
)


@dataclass
class Team:
    tenant_id: str
    owner: AuthUser
    members: list[AuthUser] = field(default_factory=list)


async def _profile(user_resources: Resources, user: AuthUser) -> None:
    async with transaction(user_resources.database) as db:
        await ProfileRepository(db).create(
            id_=user.id, email=user.email, display_name="Member", idempotency_key=f"t:{user.id}"
        )


async def team(
    temporal: Client,
    stack: TenantStack,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
    members: int,
) -> Team:
    """A provisioned tenant, its owner and ``members`` members who accepted an invitation (so
    auth's claims and the user service's directory hold them, as in production)."""
    owner = await create_user(auth_runtime)
    await _profile(user_resources, owner)
    tenant_id = await provisioned(temporal, stack, owner.id)
    async with transaction(tenant_resources.database, uuid.UUID(tenant_id)) as db:
        # More seats than the free plan's five (a plan change is another flow's test).
        tenant = await db.get(Tenant, uuid.UUID(tenant_id))
        assert tenant is not None
        tenant.seat_quota = 50
    result = Team(tenant_id, owner)

    async def join() -> AuthUser:
        member = await create_user(auth_runtime)
        await _profile(user_resources, member)
        digest = await invite(tenant_resources, tenant_id, owner.id, member.email, "member")
        handle = await change(temporal, stack, member.id, tenant_id, "accept", token_hash=digest)
        await handle.result()
        return member

    result.members = list(await asyncio.gather(*(join() for _ in range(members))))
    return result


@asynccontextmanager
async def bulk_client(
    user_resources: Resources,
    auth_runtime: AuthRuntime,
    stack: TenantStack,
    caller: uuid.UUID,
    tenant_id: str | None,
    role: str | None = "owner",
    permissions: Sequence[str] | None = None,
    **settings: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """The user API as ``caller`` in ``tenant_id``, starting runs on ``stack``'s workers."""
    resources = with_settings(user_resources, task_queue_prefix=stack.prefix, **settings)
    api = UserApi(SPEC.build_app(resources), auth_runtime, resources)
    tenant = uuid.UUID(tenant_id) if tenant_id else None
    async with api.client(caller, tenant, role, permissions) as client:
        yield client


def csv_of(rows: Sequence[Sequence[str]], header: Sequence[str]) -> bytes:
    lines = [",".join(header), *(",".join(r) for r in rows)]
    return ("\n".join(lines) + "\n").encode()


async def upload(
    client: httpx.AsyncClient, operation: str, body: bytes, media_type: str = "text/csv"
) -> httpx.Response:
    return await client.post(
        "/users/bulk/operations",
        params={"operation": operation},
        content=body,
        headers={"content-type": media_type},
    )


async def report(client: httpx.AsyncClient, workflow_id: str) -> dict[str, Any]:
    answer = await client.get(f"/users/bulk/{workflow_id}/report")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def rows_by_status(body: dict[str, Any]) -> dict[str, list[int]]:
    by: dict[str, list[int]] = {}
    for row in body["rows"]:
        by.setdefault(row["status"], []).append(row["row_number"])
    return by


async def finished(temporal: Client, workflow_id: str) -> BulkUserOperationResult:
    handle = temporal.get_workflow_handle_for(BulkUserOperationWorkflow.run, workflow_id)
    return await asyncio.wait_for(handle.result(), 120)


async def cancel_after_first_row(
    handle: WorkflowHandle[Any, Any], *, wait_seconds: float = 120, result_seconds: float = 180
) -> None:
    """Cancel the bulk run as soon as one row is done, and wait for it to end cancelled (its
    result raises)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while loop.time() < deadline:
        if (await handle.query(BulkUserOperationWorkflow.counts)).done >= 1:
            break
        await asyncio.sleep(0.05)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), result_seconds)
