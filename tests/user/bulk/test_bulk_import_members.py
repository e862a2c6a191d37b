"""The tenant's part of the batched import (``tenant.bulk_add_members``), run as a step of a
``bulk_user_operation`` run: a batch's memberships in one transaction with per-row outcomes
(unknown role, a role the actor may not grant, already a member, a repeat), the outcomes answered
again on a retry with nothing added twice, and the actor's right checked: a plain member, and an
owner of another tenant, add nobody."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.tenant.bulk_import.activities import BulkImportMemberActivities
from storage.db import transaction
from storage.tenants.bulk_members import add_members, roles_of
from tests.tenant.switching.test_tenant_switching_workflow import tenant_with
from workflows.tenant.bulk_import_contracts import (
    ALREADY_MEMBER,
    AddMembersInput,
    MemberRow,
    RemoveBatchMembersInput,
)
from workflows.user.contracts import UserWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _in_bulk_run() -> tuple[ActivityEnvironment, str]:
    """An activity environment of a ``bulk_user_operation`` run, and that run's key prefix."""
    env = ActivityEnvironment()
    run_id = str(uuid.uuid4())
    workflow_id = f"bulk-user-operation-{uuid.uuid4()}"
    env.info = dataclasses.replace(
        env.info,
        workflow_type=UserWorkflow.BULK_USER_OPERATION,
        workflow_id=workflow_id,
        workflow_run_id=run_id,
    )
    return env, f"{workflow_id}:{run_id}:"


async def _members(
    resources: Resources, tenant_id: uuid.UUID, users: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    async with transaction(resources.database, tenant_id) as db:
        return await roles_of(db, tenant_id, users)


async def test_batch_adds_members_once_and_reports_each_row(tenant_resources: Resources) -> None:
    owner = uuid.uuid4()
    tenant_id = await tenant_with(tenant_resources, owner, "owner")
    member = uuid.uuid4()
    async with transaction(tenant_resources.database, tenant_id) as db:
        await add_members(db, tenant_id, [(member, "member")])
    ann, bob, cy = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rows = [
        MemberRow(1, str(ann), "admin"),
        MemberRow(2, str(bob), "no-such-role"),
        MemberRow(3, str(member), "admin"),  # a member already: left as they are
        MemberRow(4, str(cy), "member"),
        MemberRow(5, str(ann), "member"),  # the same person again
    ]
    env, prefix = _in_bulk_run()
    activities = BulkImportMemberActivities(tenant_resources)
    batch = AddMembersInput(str(tenant_id), str(owner), rows, f"{prefix}members:0")
    with acting_as(SecurityContext.for_user(str(owner), tenant_id=str(tenant_id))):
        first = await env.run(activities.bulk_add_members, batch)
        again = await env.run(activities.bulk_add_members, batch)  # a retry after the commit
    assert again == first
    by_row = {o.row_number: o for o in first.outcomes}
    assert [o.row_number for o in first.outcomes] == [1, 2, 3, 4, 5]
    assert by_row[1].created and "members.manage" in by_row[1].permissions
    assert not by_row[2].created and "no-such-role" in (by_row[2].error or "")
    assert (by_row[3].created, by_row[3].error) == (False, ALREADY_MEMBER)
    assert by_row[4].created and by_row[4].error is None
    assert (by_row[5].created, by_row[5].error) == (False, ALREADY_MEMBER)
    assert await _members(tenant_resources, tenant_id, [ann, bob, member, cy]) == {
        ann: "admin",
        member: "member",
        cy: "member",
    }


async def test_a_plain_member_or_another_tenants_owner_adds_nobody(
    tenant_resources: Resources,
) -> None:
    owner, plain = uuid.uuid4(), uuid.uuid4()
    tenant_id = await tenant_with(tenant_resources, owner, "owner")
    other_owner = uuid.uuid4()
    await tenant_with(tenant_resources, other_owner, "owner")  # owns another tenant only
    async with transaction(tenant_resources.database, tenant_id) as db:
        await add_members(db, tenant_id, [(plain, "member")])
    newcomer = uuid.uuid4()
    activities = BulkImportMemberActivities(tenant_resources)
    for actor in (plain, other_owner):
        env, prefix = _in_bulk_run()
        batch = AddMembersInput(
            str(tenant_id), str(actor), [MemberRow(1, str(newcomer), "member")], f"{prefix}m:0"
        )
        with acting_as(SecurityContext.for_user(str(actor), tenant_id=str(tenant_id))):
            out = await env.run(activities.bulk_add_members, batch)
        assert [(o.created, bool(o.error)) for o in out.outcomes] == [(False, True)]
    # Not a step of the bulk run (its key is another run's): refused before anything is read.
    env, _ = _in_bulk_run()
    with acting_as(SecurityContext.for_user(str(owner), tenant_id=str(tenant_id))):
        with pytest.raises(ApplicationError) as refused:
            await env.run(
                activities.bulk_add_members,
                AddMembersInput(
                    str(tenant_id), str(owner), [MemberRow(1, str(newcomer), "member")], "x:y:m"
                ),
            )
    assert refused.value.type == "SecurityContextDenied"
    assert await _members(tenant_resources, tenant_id, [newcomer]) == {}


async def test_compensation_removes_only_the_batchs_memberships(
    tenant_resources: Resources,
) -> None:
    owner, before = uuid.uuid4(), uuid.uuid4()
    tenant_id = await tenant_with(tenant_resources, owner, "owner")
    async with transaction(tenant_resources.database, tenant_id) as db:
        await add_members(db, tenant_id, [(before, "member")])
    newcomer = uuid.uuid4()
    env, prefix = _in_bulk_run()
    activities = BulkImportMemberActivities(tenant_resources)
    key = f"{prefix}members:0"
    rows = [MemberRow(1, str(before), "member"), MemberRow(2, str(newcomer), "member")]
    with acting_as(SecurityContext.for_user(str(owner), tenant_id=str(tenant_id))):
        await env.run(
            activities.bulk_add_members, AddMembersInput(str(tenant_id), str(owner), rows, key)
        )
        never_ran = await env.run(
            activities.bulk_remove_members,
            RemoveBatchMembersInput(str(tenant_id), f"{prefix}members:1"),
        )
        undone = await env.run(
            activities.bulk_remove_members, RemoveBatchMembersInput(str(tenant_id), key)
        )
    assert (never_ran.removed, undone.removed) == (0, 1)
    assert await _members(tenant_resources, tenant_id, [owner, before, newcomer]) == {
        owner: "owner",
        before: "member",
    }
