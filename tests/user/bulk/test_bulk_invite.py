"""Bulk ``invite`` (``bulk-invite``): each row an invitation by the rules and mail of ``POST
/tenants/{id}/invitations`` (``tenant.bulk_invite``), on the real stack. A role the tenant does
not know fails its row alone; an address invited already gets its invitation again; a retried
step invites and mails nobody twice; a run of another tenant's owner invites nobody."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.tenant.bulk_import.invites import BulkInviteActivities
from storage.db import transaction
from storage.tenants.repository import InvitationRepository
from tests.auth.mail_flows import outbox_mails
from tests.tenant.switching.test_tenant_switching_workflow import tenant_with
from tests.tenant.workflows.flows import invite
from tests.user.bulk.bulk_api import bulk_client, finished, report, rows_by_status, team, upload
from workflows.tenant.bulk_import_contracts import InviteRowInput
from workflows.user.contracts import UserWorkflow

pytestmark = pytest.mark.timeout(180)


async def _pending(resources: Resources, tenant_id: str) -> dict[str, str]:
    tid = uuid.UUID(tenant_id)
    async with transaction(resources.database, tid) as db:
        rows = await InvitationRepository(db, tid).all()
    return {r.email: r.role for r in rows if r.status == "pending"}


async def test_bulk_invite_invites_each_row(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    tag = uuid.uuid4().hex[:8]
    ann, bob, cy = (f"{n}-{tag}@example.com" for n in ("ann", "bob", "cy"))
    async with bulk_stack() as stack:
        a = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 0)
        await invite(tenant_resources, a.tenant_id, a.owner.id, cy, "member")  # invited before
        body = (
            "email,role\n"
            f"{ann},admin\n"
            f"{bob},ghost-role\n"
            f"{cy},admin\n"
            "not-an-address,member\n"
            f"{'x' * 1_000_000}@example.com,member\n"
            f"{ann.upper()},member\n"
        )
        async with bulk_client(
            user_resources, auth_runtime, stack, a.owner.id, a.tenant_id
        ) as client:
            started = await upload(client, "invite", body.encode())
            assert started.status_code == 202, started.text
            workflow_id = started.json()["workflow_id"]
            result = await finished(temporal, workflow_id)
            got = await report(client, workflow_id)

    assert (result.done, result.failed) == (2, 4), got
    assert rows_by_status(got) == {"done": [1, 3], "failed": [2, 4, 5, 6]}
    errors = {r["row_number"]: r["error"] for r in got["rows"]}
    assert "ghost-role" in errors[2]
    assert errors[4].startswith("email") and errors[5].startswith("not a CSV row")
    assert errors[6] == "duplicate of row 1"
    assert await _pending(tenant_resources, a.tenant_id) == {ann: "admin", cy: "admin"}
    settings = tenant_resources.settings
    (mail,) = outbox_mails(settings, ann)
    assert mail["Subject"].startswith("You are invited to join")
    assert len(outbox_mails(settings, cy)) == 1  # issued again: a new link
    assert outbox_mails(settings, bob) == []


def _in_bulk_run() -> tuple[ActivityEnvironment, str]:
    env = ActivityEnvironment()
    run_id, workflow_id = str(uuid.uuid4()), f"bulk-user-operation-{uuid.uuid4()}"
    env.info = dataclasses.replace(
        env.info,
        workflow_type=UserWorkflow.BULK_USER_OPERATION,
        workflow_id=workflow_id,
        workflow_run_id=run_id,
    )
    return env, f"{workflow_id}:{run_id}:"


async def test_a_retried_invite_writes_and_mails_once(tenant_resources: Resources) -> None:
    owner = uuid.uuid4()
    tenant_id = await tenant_with(tenant_resources, owner, "owner")
    dee = f"dee-{uuid.uuid4().hex[:8]}@example.com"
    env, prefix = _in_bulk_run()
    activities = BulkInviteActivities(tenant_resources)
    step = InviteRowInput(str(tenant_id), str(owner), dee, "member", f"{prefix}invite:1")
    with acting_as(SecurityContext.for_user(str(owner), tenant_id=str(tenant_id))):
        first = await env.run(activities.bulk_invite, step)
        again = await env.run(activities.bulk_invite, step)  # a retry after the commit
    assert again == first and first.created
    assert await _pending(tenant_resources, str(tenant_id)) == {dee: "member"}
    assert len(outbox_mails(tenant_resources.settings, dee)) == 1


async def test_another_tenants_owner_invites_nobody(tenant_resources: Resources) -> None:
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    tenant_a = await tenant_with(tenant_resources, owner, "owner")
    await tenant_with(tenant_resources, stranger, "owner")  # owns another tenant only
    eve = f"eve-{uuid.uuid4().hex[:8]}@example.com"
    env, prefix = _in_bulk_run()
    step = InviteRowInput(str(tenant_a), str(stranger), eve, "member", f"{prefix}invite:1")
    with acting_as(SecurityContext.for_user(str(stranger), tenant_id=str(tenant_a))):
        with pytest.raises(ApplicationError) as refused:
            await env.run(BulkInviteActivities(tenant_resources).bulk_invite, step)
    assert refused.value.non_retryable and refused.value.type == "NotAMember"
    assert await _pending(tenant_resources, str(tenant_a)) == {}
    assert outbox_mails(tenant_resources.settings, eve) == []
