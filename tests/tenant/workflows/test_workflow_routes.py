"""The routes that start the tenant workflows (in-process tenant app, real workers): each checks
the caller first, starts its run as the caller and answers 202 with the run's id."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.tenant.service import SPEC
from tests.auth.users import create_user
from tests.tenant.http.tenant_api import RecordingMailer, TenantApi

pytestmark = pytest.mark.timeout(120)


async def test_create_suspend_resume_delete_over_http(
    temporal: Client,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
) -> None:
    owner, stranger = await create_user(auth_runtime), await create_user(auth_runtime)
    slug = f"t-{uuid.uuid4().hex[:10]}"
    async with tenant_stack() as stack:
        local = tenant_resources.settings.model_copy(
            update={"task_queue_prefix": stack.prefix, "tenant_deletion_grace_seconds": 1.0}
        )
        resources = dataclasses.replace(tenant_resources, settings=local)
        api = TenantApi(SPEC.build_app(resources), auth_runtime, RecordingMailer(), resources)

        async with api.client(owner.id, None) as http:
            created = await http.post("/tenants", json={"slug": slug, "name": "Acme"})
        assert created.status_code == 202, created.text
        run = temporal.get_workflow_handle(created.json()["workflow_id"])
        tenant_id = uuid.UUID((await run.result())["tenant_id"])

        async with api.client(stranger.id, tenant_id) as http:
            refused = await http.post(f"/tenants/{tenant_id}/suspend")
        async with api.client(owner.id, tenant_id) as http:
            suspended = await http.post(f"/tenants/{tenant_id}/suspend")
            await temporal.get_workflow_handle(suspended.json()["workflow_id"]).result()
            again = await http.post(f"/tenants/{tenant_id}/suspend")  # not active any more
        async with api.client(owner.id, None) as http:  # no token into a suspended tenant
            resumed = await http.post(f"/tenants/{tenant_id}/resume")
            await temporal.get_workflow_handle(resumed.json()["workflow_id"]).result()
            deleted = await http.post(f"/tenants/{tenant_id}/delete")
            result = await temporal.get_workflow_handle(deleted.json()["workflow_id"]).result()

    assert created.json()["workflow_id"] == f"tenant-provisioning-{slug}"
    assert refused.status_code == 404
    assert suspended.status_code == 202 and again.status_code == 409
    assert resumed.status_code == 202
    assert deleted.status_code == 202 and result["status"] == "deleted"
