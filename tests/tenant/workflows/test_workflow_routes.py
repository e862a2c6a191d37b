"""The routes that start the tenant workflows (in-process tenant app, real workers): each checks
the caller first, starts its run as the caller and answers 202 with the run's id."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.tenant.service import SPEC
from storage.db import transaction
from storage.tenants.repository import MembershipRepository, RoleRepository
from tests.auth.mail_flows import record_history
from tests.auth.users import create_user
from tests.tenant.http.tenant_api import RecordingMailer, TenantApi
from tests.tenant.workflows.flows import provisioned
from tests.tenant.workflows.stack import traces
from workflows.common.progress import Progress, ProgressState
from workflows.tenant.suspension_contracts import (
    EXPORT_TENANT,
    ExportTenantInput,
    ExportTenantOutput,
)

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


def _blocking_export(entered: asyncio.Event, release: asyncio.Event) -> Any:
    """A stand-in for ``tenant.export_tenant`` that holds the run past its grace period."""

    @EXPORT_TENANT.implement
    async def export_tenant(input: ExportTenantInput) -> ExportTenantOutput:
        entered.set()
        await release.wait()
        return ExportTenantOutput(key=f"{input.export_prefix}tenants.json", rows=0)

    return export_tenant


async def _waiting(handle: Any) -> None:
    for _ in range(200):
        progress = await handle.query("progress", result_type=Progress)
        if progress.state == ProgressState.waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the deletion never reached its grace period")


async def test_resume_after_the_grace_period_is_a_409_and_the_deletion_goes_on(
    temporal: Client,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
) -> None:
    owner = await create_user(auth_runtime)
    entered, release = asyncio.Event(), asyncio.Event()
    async with tenant_stack(replace={EXPORT_TENANT.name: _blocking_export(entered, release)}) as (
        stack
    ):
        local = tenant_resources.settings.model_copy(
            update={"task_queue_prefix": stack.prefix, "tenant_deletion_grace_seconds": 0.5}
        )
        resources = dataclasses.replace(tenant_resources, settings=local)
        api = TenantApi(SPEC.build_app(resources), auth_runtime, RecordingMailer(), resources)
        tenant_id = uuid.UUID(await provisioned(temporal, stack, owner.id))
        async with api.client(owner.id, None) as http:
            deleted = await http.post(f"/tenants/{tenant_id}/delete")
            run = temporal.get_workflow_handle(deleted.json()["workflow_id"])
            await asyncio.wait_for(entered.wait(), 30)  # past the grace: exporting
            late = await http.post(f"/tenants/{tenant_id}/resume")
            release.set()
            result = await run.result()
            after = await http.post(f"/tenants/{tenant_id}/resume")

    assert deleted.status_code == 202
    assert late.status_code == 409, late.text
    assert late.json()["code"] == "TenantNotActive" and "grace" in late.json()["detail"]
    assert result["status"] == "deleted"
    assert after.status_code == 404  # the tenant and the caller's membership are gone


async def test_a_cancelled_deletion_of_a_suspended_tenant_leaves_it_suspended(
    temporal: Client,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
) -> None:
    owner = await create_user(auth_runtime)
    async with tenant_stack() as stack:
        local = tenant_resources.settings.model_copy(
            update={"task_queue_prefix": stack.prefix, "tenant_deletion_grace_seconds": 60.0}
        )
        resources = dataclasses.replace(tenant_resources, settings=local)
        api = TenantApi(SPEC.build_app(resources), auth_runtime, RecordingMailer(), resources)
        tenant_id = uuid.UUID(await provisioned(temporal, stack, owner.id))
        async with api.client(owner.id, tenant_id) as http:
            suspended = await http.post(f"/tenants/{tenant_id}/suspend")
            await temporal.get_workflow_handle(suspended.json()["workflow_id"]).result()
        async with api.client(owner.id, None) as http:
            deleted = await http.post(f"/tenants/{tenant_id}/delete")
            run = temporal.get_workflow_handle(deleted.json()["workflow_id"])
            await _waiting(run)
            cancelled = await http.post(f"/tenants/{tenant_id}/resume")
            result = await run.result()
            await record_history(run, "tenant_suspension.v2-cancelled-suspended")
            found = await traces(
                str(tenant_id),
                [owner.id],
                tenant_resources=tenant_resources,
                auth_resources=auth_resources,
                file_resources=file_resources,
            )
            resumed = await http.post(f"/tenants/{tenant_id}/resume")  # now a resume proper
            await temporal.get_workflow_handle(resumed.json()["workflow_id"]).result()
            active = await traces(
                str(tenant_id),
                [owner.id],
                tenant_resources=tenant_resources,
                auth_resources=auth_resources,
                file_resources=file_resources,
            )

    assert cancelled.status_code == 202 and cancelled.json()["workflow_id"] == run.id
    assert result["status"] == "suspended"
    assert found.tenant.status == "suspended" and found.tenant.delete_after is None
    assert [m.status for m in found.members] == ["suspended"]
    assert found.claims == {str(owner.id): None}  # no token into it came back
    assert resumed.status_code == 202 and resumed.json()["workflow_id"] != run.id
    assert active.tenant.status == "active" and active.claims == {str(owner.id): ["owner"]}


async def test_a_custom_role_with_tenant_manage_resumes_a_suspended_tenant(
    temporal: Client,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
) -> None:
    owner, operator, reader = [await create_user(auth_runtime) for _ in range(3)]
    async with tenant_stack() as stack:
        local = tenant_resources.settings.model_copy(update={"task_queue_prefix": stack.prefix})
        resources = dataclasses.replace(tenant_resources, settings=local)
        api = TenantApi(SPEC.build_app(resources), auth_runtime, RecordingMailer(), resources)
        tenant_id = uuid.UUID(await provisioned(temporal, stack, owner.id))
        async with transaction(tenant_resources.database, tenant_id) as db:
            roles, members = RoleRepository(db, tenant_id), MembershipRepository(db, tenant_id)
            await roles.create("operator", "Runs the workspace", ["tenant.manage", "users.read"])
            await roles.create("reader", "Reads", ["users.read", "files.read"])
            await members.add_member(operator.id, "operator")
            await members.add_member(reader.id, "reader")
        async with api.client(owner.id, tenant_id) as http:
            suspended = await http.post(f"/tenants/{tenant_id}/suspend")
            await temporal.get_workflow_handle(suspended.json()["workflow_id"]).result()
        async with api.client(reader.id, None) as http:  # a custom role without tenant.manage
            refused = await http.post(f"/tenants/{tenant_id}/resume")
        async with api.client(operator.id, None) as http:  # no token into a suspended tenant
            resumed = await http.post(f"/tenants/{tenant_id}/resume")
            result = await temporal.get_workflow_handle(resumed.json()["workflow_id"]).result()
        found = await traces(
            str(tenant_id),
            [owner.id, operator.id],
            tenant_resources=tenant_resources,
            auth_resources=auth_resources,
            file_resources=file_resources,
        )

    assert refused.status_code == 403 and refused.json()["code"] == "PermissionDenied"
    assert resumed.status_code == 202, resumed.text
    assert result["status"] == "active" and found.tenant.status == "active"
    assert found.claims == {str(owner.id): ["owner"], str(operator.id): ["operator"]}
