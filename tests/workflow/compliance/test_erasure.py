"""``gdpr_erasure``'s other courses on the real stack: cancelled by the person during the grace
period (or by cancelling the run), stopped by a legal hold, waiting for a new owner of a tenant
the person alone owns; every step in the audit trail under the pseudonym only."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError

from services.auth.runtime import AuthRuntime
from storage.auth import compliance as auth_compliance
from storage.auth.audit import AuditRepository
from storage.auth.models import Credential
from storage.db import transaction
from storage.tenants.repository import MembershipRepository
from tests.auth.users import create_user, login
from tests.in_process import in_process_auth_api
from tests.workflow.compliance.people import (
    ComplianceStack,
    Person,
    erasure_events,
    erasure_state,
    member_with_data,
    provisioned,
    request_erasure,
)
from workflows.compliance.contracts import ErasureResult

pytestmark = pytest.mark.timeout(180)


async def _account_exists(stack: ComplianceStack, person: Person) -> bool:
    async with transaction(stack.auth.database) as db:
        return await db.get(Credential, person.id) is not None


async def test_the_person_cancels_during_the_grace_period(
    temporal: Client, compliance_stack: Any, auth_runtime: AuthRuntime
) -> None:
    owner = await create_user(auth_runtime)
    async with compliance_stack(grace_seconds=600) as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        person = await member_with_data(auth_runtime, stack, tenant_id)
        async with in_process_auth_api(stack.auth) as auth:
            await login(auth, person.account)
        assert len(await auth_runtime.sessions.list(person.id)) == 1
        workflow_id = await request_erasure(stack, person)
        state = await erasure_state(stack, person, "grace")
        assert state["cancellable"] and state["grace_ends_at"] > 0
        # Sessions end as soon as the erasure is requested, not after the grace period.
        assert await auth_runtime.sessions.list(person.id) == []
        # Another person (an owner of the tenant, even) cannot touch it: they have none.
        async with stack.api.client(owner_caller(owner.id, tenant_id)) as client:
            assert (await client.post("/compliance/erasures/cancel", json={})).status_code == 404
        async with stack.api.client(person.caller) as client:
            cancelled = await client.post("/compliance/erasures/cancel", json={"reason": "oops"})
        assert cancelled.json() == {"cancelled": True}
        result = await temporal.get_workflow_handle(workflow_id, result_type=ErasureResult).result()
    assert result.outcome == "cancelled" and result.receipt is None
    assert await _account_exists(stack, person)
    async with transaction(stack.tenants.database, tenant_id) as db:
        assert await MembershipRepository(db, tenant_id).of_user(person.id) is not None
    events = await erasure_events(stack, result.erasure_id)
    assert events[:2] == ["compliance.erasure_requested", "compliance.erasure_cancelled"]


def owner_caller(user_id: uuid.UUID, tenant_id: uuid.UUID) -> Any:
    from tests.workflow.runs.runs_api import MANAGE, Caller

    return Caller(user_id, tenant_id, (*MANAGE, "members.manage"))


async def test_cancelling_the_run_undoes_and_erases_nothing(
    temporal: Client, compliance_stack: Any, auth_runtime: AuthRuntime
) -> None:
    owner = await create_user(auth_runtime)
    async with compliance_stack(grace_seconds=600) as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        person = await member_with_data(auth_runtime, stack, tenant_id)
        handle = temporal.get_workflow_handle(await request_erasure(stack, person))
        await erasure_state(stack, person, "grace")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert await _account_exists(stack, person)
    assert await stack.files.blobs.exists(person.blob_key)


async def test_a_legal_hold_stops_the_erasure(
    temporal: Client, compliance_stack: Any, auth_runtime: AuthRuntime
) -> None:
    owner = await create_user(auth_runtime)
    async with compliance_stack(grace_seconds=1) as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        person = await member_with_data(auth_runtime, stack, tenant_id)
        async with transaction(stack.auth.database) as db:
            await auth_compliance.set_hold(db, person.id, "litigation 2026-17", owner.id)
        workflow_id = await request_erasure(stack, person)
        result = await temporal.get_workflow_handle(workflow_id, result_type=ErasureResult).result()
        async with transaction(stack.auth.database) as db:
            assert await auth_compliance.release_hold(db, person.id)
    assert result.outcome == "legal_hold" and result.receipt is None
    assert await _account_exists(stack, person)
    assert await stack.files.blobs.exists(person.blob_key)
    assert "compliance.erasure_held" in await erasure_events(stack, result.erasure_id)


async def test_a_sole_owner_names_a_new_owner_first(
    temporal: Client, compliance_stack: Any, auth_runtime: AuthRuntime
) -> None:
    founder = await create_user(auth_runtime)
    async with compliance_stack(grace_seconds=1) as stack:
        tenant_id = await provisioned(temporal, stack, founder.id)
        member = await member_with_data(auth_runtime, stack, tenant_id)
        person = Person(founder, tenant_id, uuid.uuid4(), "")
        workflow_id = await request_erasure(stack, person)
        state = await erasure_state(stack, person, "waiting_for_tenants")
        assert state["waiting_for_tenants"] == [str(tenant_id)]
        async with stack.api.client(person.caller) as client:
            stranger = await client.post(
                "/compliance/erasures/decisions",
                json={
                    "decisions": [{"tenant_id": str(tenant_id), "new_owner_id": str(uuid.uuid4())}]
                },
            )
            assert stranger.json() == {"waiting": [str(tenant_id)], "refused": [str(tenant_id)]}
            decided = await client.post(
                "/compliance/erasures/decisions",
                json={"decisions": [{"tenant_id": str(tenant_id), "new_owner_id": str(member.id)}]},
            )
        assert decided.json() == {"waiting": [], "refused": []}, decided.text
        result = await temporal.get_workflow_handle(workflow_id, result_type=ErasureResult).result()
    assert result.outcome == "erased"
    async with transaction(stack.tenants.database, tenant_id) as db:
        members = MembershipRepository(db, tenant_id)
        new_owner = await members.of_user(member.id)
        assert await members.of_user(founder.id) is None
    assert new_owner is not None and new_owner.role == "owner"
    assert not await _account_exists(stack, person)
    async with transaction(stack.auth.database) as db:
        assert await AuditRepository(db).for_user(founder.id) == []
