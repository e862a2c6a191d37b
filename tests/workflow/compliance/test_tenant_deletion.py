"""``gdpr_erasure`` with a tenant the person alone owns chosen for deletion (``action: delete``):
deleted by the tenant service's own deletion (a ``tenant_suspension`` child, no export) once the
grace period is over; a refused deletion asks again; a cancel during the grace period keeps
the tenant. With ``ADX_RECORD_HISTORIES=1`` the first run is the replay history
``tests/histories/gdpr_erasure.tenant_deletion.json``."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.settings import Settings
from storage.auth.models import Credential
from storage.db import transaction
from storage.tenants.lifecycle import tenant_row
from storage.tenants.repository import MembershipRepository
from tests.auth.mail_flows import record_history
from tests.auth.users import create_user
from tests.workflow.compliance.people import (
    ComplianceStack,
    Person,
    blobs_naming,
    erasure_events,
    erasure_state,
    member_with_data,
    provisioned,
    request_erasure,
)
from tests.workflow.runs.runs_api import eventually
from workflows.common.errors import business_error
from workflows.compliance.contracts import ErasureResult
from workflows.tenant.contracts import TenantError
from workflows.tenant.suspension_contracts import (
    SCHEDULE_DELETION,
    TenantMembersOutput,
    TenantStatusChangeInput,
)
from workflows.tenant.tenant_suspension import TenantSuspensionResult, tenant_deletion_workflow_id

pytestmark = pytest.mark.timeout(240)
DECISIONS = "/compliance/erasures/decisions"


def _delete(tenant_id: uuid.UUID) -> dict[str, Any]:
    return {"decisions": [{"tenant_id": str(tenant_id), "action": "delete"}]}


async def _founder_and_member(
    temporal: Client, stack: ComplianceStack, auth_runtime: AuthRuntime
) -> tuple[Person, Person]:
    founder = await create_user(auth_runtime)
    tenant_id = await provisioned(temporal, stack, founder.id)
    member = await member_with_data(auth_runtime, stack, tenant_id)
    return Person(founder, tenant_id, uuid.uuid4(), ""), member


async def _tenant_status(stack: ComplianceStack, tenant_id: uuid.UUID) -> str | None:
    async with transaction(stack.tenants.database, tenant_id) as db:
        row = await tenant_row(db, tenant_id)
        return None if row is None else str(row.status)


async def test_a_sole_owner_deletes_their_tenant(
    temporal: Client, compliance_stack: Any, auth_runtime: AuthRuntime, settings: Settings
) -> None:
    async with compliance_stack(grace_seconds=1) as stack:
        person, member = await _founder_and_member(temporal, stack, auth_runtime)
        tenant_id = person.tenant_id
        workflow_id = await request_erasure(stack, person)
        await erasure_state(stack, person, "waiting_for_tenants")
        async with stack.api.client(person.caller) as client:
            both = _delete(tenant_id)
            both["decisions"][0]["new_owner_id"] = str(member.id)
            assert (await client.post(DECISIONS, json=both)).status_code == 422
            no_owner = {"decisions": [{"tenant_id": str(tenant_id), "action": "transfer"}]}
            assert (await client.post(DECISIONS, json=no_owner)).status_code == 422
            decided = await client.post(DECISIONS, json=_delete(tenant_id))
        assert decided.json() == {"waiting": [], "refused": []}, decided.text
        handle = temporal.get_workflow_handle(workflow_id, result_type=ErasureResult)
        result = await handle.result()
        deletion = await temporal.get_workflow_handle(
            tenant_deletion_workflow_id(str(tenant_id)), result_type=TenantSuspensionResult
        ).result()
        await record_history(handle, "gdpr_erasure.tenant_deletion")
    assert result.outcome == "erased" and result.receipt is not None
    assert deletion.status == "deleted" and deletion.export_prefix is None
    assert await _tenant_status(stack, tenant_id) is None
    # The tenant's files went with it (the member's too), and no export of it was kept.
    assert not await stack.files.blobs.exists(member.blob_key)
    assert blobs_naming(settings.blob_root(), [f"exports/tenants/{tenant_id}"]) == []
    async with transaction(stack.auth.database) as db:
        assert await db.get(Credential, person.id) is None
        assert await db.get(Credential, member.id) is not None
    parts = json.loads(result.receipt.receipt)["parts"]
    assert {"service": "tenant_deletion", "deleted": {"tenants": 1}} in parts
    events = await erasure_events(stack, result.erasure_id)
    assert events.index("compliance.erasure_tenant_deletion_chosen") < events.index(
        "compliance.erasure_tenant_deleted"
    ), events
    assert events[-1] == "compliance.erasure_completed"


def _refusing_deletion() -> Any:
    async def refuse(input: TenantStatusChangeInput) -> TenantMembersOutput:
        raise business_error(TenantError.PERMISSION_DENIED, "deletion refused (test)")

    refuse.__annotations__ = {"input": TenantStatusChangeInput, "return": TenantMembersOutput}
    return SCHEDULE_DELETION.implement(refuse)


async def test_a_refused_deletion_asks_again(
    temporal: Client, compliance_stack: Any, auth_runtime: AuthRuntime
) -> None:
    replace = {SCHEDULE_DELETION.name: _refusing_deletion()}
    async with compliance_stack(replace=replace, grace_seconds=1) as stack:
        person, member = await _founder_and_member(temporal, stack, auth_runtime)
        tenant_id = person.tenant_id
        workflow_id = await request_erasure(stack, person)
        await erasure_state(stack, person, "waiting_for_tenants")
        async with stack.api.client(person.caller) as client:
            await client.post(DECISIONS, json=_delete(tenant_id))
        # After the grace period the deletion is refused (the tenant's saga left it as it
        # was): the run asks again (the update emptied the list), and can be cancelled again.

        async def asked_again() -> dict[str, Any]:
            state = await erasure_state(stack, person, "waiting_for_tenants")
            assert state["waiting_for_tenants"] == [str(tenant_id)], state
            return state

        state = await eventually(asked_again, timeout=60)
        assert state["deleting_tenants"] == [] and state["cancellable"], state
        async with stack.api.client(person.caller) as client:
            decided = await client.post(
                DECISIONS,
                json={"decisions": [{"tenant_id": str(tenant_id), "new_owner_id": str(member.id)}]},
            )
        assert decided.json() == {"waiting": [], "refused": []}, decided.text
        result = await temporal.get_workflow_handle(workflow_id, result_type=ErasureResult).result()
    assert result.outcome == "erased"
    assert await _tenant_status(stack, tenant_id) == "active"
    async with transaction(stack.tenants.database, tenant_id) as db:
        new_owner = await MembershipRepository(db, tenant_id).of_user(member.id)
    assert new_owner is not None and new_owner.role == "owner"
    assert "compliance.erasure_tenant_deletion_failed" in await erasure_events(
        stack, result.erasure_id
    )


async def test_a_cancel_during_the_grace_period_keeps_the_tenant(
    temporal: Client, compliance_stack: Any, auth_runtime: AuthRuntime
) -> None:
    async with compliance_stack(grace_seconds=600) as stack:
        person, member = await _founder_and_member(temporal, stack, auth_runtime)
        tenant_id = person.tenant_id
        workflow_id = await request_erasure(stack, person)
        await erasure_state(stack, person, "waiting_for_tenants")
        async with stack.api.client(person.caller) as client:
            await client.post(DECISIONS, json=_delete(tenant_id))
            state = await erasure_state(stack, person, "grace")
            assert state["deleting_tenants"] == [str(tenant_id)], state
            cancelled = await client.post("/compliance/erasures/cancel", json={})
        assert cancelled.json() == {"cancelled": True}
        result = await temporal.get_workflow_handle(workflow_id, result_type=ErasureResult).result()
    assert result.outcome == "cancelled"
    assert await _tenant_status(stack, tenant_id) == "active"
    assert await stack.files.blobs.exists(member.blob_key)
    deletions = [
        e.id
        async for e in temporal.list_workflows(
            f"WorkflowId = '{tenant_deletion_workflow_id(str(tenant_id))}'"
        )
    ]
    assert deletions == []
