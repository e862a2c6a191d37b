"""``tenant_suspension`` on the real dev server: a suspended tenant refuses logins into it and
keeps its data, resuming restores the claims; a scheduled deletion exports the data and then
erases it from every schema after its (2 s) grace period, and a resume during the grace cancels
it. With ``ADX_RECORD_HISTORIES=1`` the runs are the replay histories
(``tests/histories/tenant_suspension*.json``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from tests.auth.mail_flows import record_history, wait_for_outbox
from tests.auth.users import AuthUser, create_user, login
from tests.tenant.workflows.flows import change, invite, provisioned, suspension
from tests.tenant.workflows.stack import traces
from workflows.common.progress import Progress, ProgressState
from workflows.tenant.tenant_suspension import RESUME_SIGNAL

pytestmark = pytest.mark.timeout(120)


async def _login_status(client: httpx.AsyncClient, user: AuthUser, tenant_id: str) -> int:
    response = await client.post(
        "/auth/login",
        json={"email": user.email, "password": user.password, "tenant_id": tenant_id},
    )
    return response.status_code


async def test_suspended_tenant_refuses_logins_and_resume_restores(
    temporal: Client,
    settings: Settings,
    tenant_stack: Any,
    auth_client: httpx.AsyncClient,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
) -> None:
    owner, member = await create_user(auth_runtime), await create_user(auth_runtime)
    async with tenant_stack() as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        digest = await invite(tenant_resources, tenant_id, owner.id, member.email)
        await (
            await change(temporal, stack, member.id, tenant_id, "accept", token_hash=digest)
        ).result()
        tokens = await login(auth_client, member, tenant_id=tenant_id)
        suspend = await suspension(temporal, stack, owner.id, tenant_id, "suspend")
        await suspend.result()
        await record_history(suspend, "tenant_suspension")
        during = await traces(
            tenant_id,
            [owner.id, member.id],
            tenant_resources=tenant_resources,
            auth_resources=auth_resources,
            file_resources=file_resources,
        )
        refused = await _login_status(auth_client, member, tenant_id)
        me = await auth_client.get(
            "/auth/me", headers={"authorization": f"Bearer {tokens['access_token']}"}
        )
        mails = await wait_for_outbox(settings, member.email)
        resume = await suspension(temporal, stack, owner.id, tenant_id, "resume")
        await resume.result()
        await record_history(resume, "tenant_suspension.resume")
        after = await traces(
            tenant_id,
            [owner.id, member.id],
            tenant_resources=tenant_resources,
            auth_resources=auth_resources,
            file_resources=file_resources,
        )
        allowed = await _login_status(auth_client, member, tenant_id)

    assert during.tenant.status == "suspended" and len(during.members) == 2  # data untouched
    assert all(m.status == "suspended" for m in during.members)
    assert during.claims == {str(owner.id): None, str(member.id): None}
    assert refused == 403 and me.status_code == 401
    assert any("suspended" in str(m["Subject"]) for m in mails)
    assert after.tenant.status == "active"
    assert after.claims == {str(owner.id): ["owner"], str(member.id): ["member"]}
    assert allowed == 200


async def test_scheduled_deletion_exports_then_erases_everything(
    temporal: Client,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
) -> None:
    owner = await create_user(auth_runtime)
    async with tenant_stack() as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        handle = await suspension(temporal, stack, owner.id, tenant_id, "delete", 2.0)
        result = await handle.result()
        await record_history(handle, "tenant_suspension.deleted")
    found = await traces(
        tenant_id,
        [owner.id],
        tenant_resources=tenant_resources,
        auth_resources=auth_resources,
        file_resources=file_resources,
    )
    exported = json.loads(await file_resources.blobs.get(f"{result.export_prefix}tenants.json"))
    files = json.loads(await file_resources.blobs.get(f"{result.export_prefix}files.json"))

    assert result.status == "deleted"
    assert found.empty, found
    assert exported["tables"]["tenants"][0]["id"] == tenant_id
    assert [m["user_id"] for m in exported["tables"]["memberships"]] == [str(owner.id)]
    assert files == {"files": []}


async def test_resume_during_the_grace_period_cancels_the_deletion(
    temporal: Client,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
) -> None:
    owner = await create_user(auth_runtime)
    async with tenant_stack() as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        handle = await suspension(temporal, stack, owner.id, tenant_id, "delete", 30.0)
        for _ in range(100):
            progress = await handle.query("progress", result_type=Progress)
            if progress.state == ProgressState.waiting:
                break
            await asyncio.sleep(0.1)
        await handle.signal(RESUME_SIGNAL)
        result = await handle.result()
    found = await traces(
        tenant_id,
        [owner.id],
        tenant_resources=tenant_resources,
        auth_resources=auth_resources,
        file_resources=file_resources,
    )
    assert result.status == "active"
    assert found.tenant.status == "active" and found.tenant.delete_after is None
    assert found.claims == {str(owner.id): ["owner"]} and found.marker
