"""``membership_change`` on the real dev server: joining by invitation (right and wrong address),
role changes under the last-owner and grant rules, a removal that ends the member's sessions in
the tenant at once. With ``ADX_RECORD_HISTORIES=1`` the accepted invitation is the replay
history (``tests/histories/membership_change.json``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from tests.auth.mail_flows import record_history
from tests.auth.users import create_user, login
from tests.tenant.workflows.flows import change, invite, provisioned
from tests.tenant.workflows.stack import traces

pytestmark = pytest.mark.timeout(120)


async def _refused(handle: Any) -> str:
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, ApplicationError)
    return str(failure.value.cause.type)


async def test_invitation_accepted_by_its_address_only(
    temporal: Client,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
) -> None:
    owner, invitee, stranger = [await create_user(auth_runtime) for _ in range(3)]
    async with tenant_stack() as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        digest = await invite(tenant_resources, tenant_id, owner.id, invitee.email, "viewer")
        wrong = await _refused(
            await change(temporal, stack, stranger.id, tenant_id, "accept", token_hash=digest)
        )
        accepted = await change(temporal, stack, invitee.id, tenant_id, "accept", token_hash=digest)
        await accepted.result()
        await record_history(accepted, "membership_change")
        again = await _refused(
            await change(temporal, stack, invitee.id, tenant_id, "accept", token_hash=digest)
        )
    found = await traces(
        tenant_id,
        [invitee.id, stranger.id],
        tenant_resources=tenant_resources,
        auth_resources=auth_resources,
        file_resources=file_resources,
    )
    assert wrong == "InvalidInvitation" and again == "InvalidInvitation"
    assert {(m.user_id, m.role) for m in found.members} == {
        (owner.id, "owner"),
        (invitee.id, "viewer"),
    }
    assert found.claims == {str(invitee.id): ["viewer"], str(stranger.id): None}


async def test_role_changes_honour_the_last_owner_and_grant_rules(
    temporal: Client,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
) -> None:
    owner, admin = await create_user(auth_runtime), await create_user(auth_runtime)
    async with tenant_stack() as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        digest = await invite(tenant_resources, tenant_id, owner.id, admin.email, "admin")
        await (
            await change(temporal, stack, admin.id, tenant_id, "accept", token_hash=digest)
        ).result()
        last_owner = await _refused(
            await change(
                temporal, stack, owner.id, tenant_id, "change-role", user_id=owner.id, role="admin"
            )
        )
        admin_demotes_owner = await _refused(
            await change(
                temporal, stack, admin.id, tenant_id, "change-role", user_id=owner.id, role="member"
            )
        )
        admin_makes_owner = await _refused(
            await change(
                temporal, stack, admin.id, tenant_id, "change-role", user_id=admin.id, role="owner"
            )
        )
        demoted = await change(
            temporal, stack, owner.id, tenant_id, "change-role", user_id=admin.id, role="viewer"
        )
        result = await demoted.result()
        transfer = await change(
            temporal, stack, owner.id, tenant_id, "transfer-ownership", user_id=admin.id
        )
        await transfer.result()
    found = await traces(
        tenant_id,
        [owner.id, admin.id],
        tenant_resources=tenant_resources,
        auth_resources=auth_resources,
        file_resources=file_resources,
    )
    assert last_owner == "LastOwner"
    assert admin_demotes_owner == "GrantExceedsOwn"
    assert admin_makes_owner == "OwnerRequired"
    assert result.members[0].revoke_sessions is True
    assert found.claims == {str(owner.id): ["admin"], str(admin.id): ["owner"]}


async def test_a_removed_member_loses_the_tenant_at_once(
    temporal: Client,
    tenant_stack: Any,
    auth_client: httpx.AsyncClient,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
) -> None:
    owner, member = await create_user(auth_runtime), await create_user(auth_runtime)
    async with tenant_stack() as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        digest = await invite(tenant_resources, tenant_id, owner.id, member.email)
        await (
            await change(temporal, stack, member.id, tenant_id, "accept", token_hash=digest)
        ).result()
        tokens = await login(auth_client, member, tenant_id=tenant_id)
        await (
            await change(temporal, stack, owner.id, tenant_id, "remove", user_id=member.id)
        ).result()
    bearer = {"authorization": f"Bearer {tokens['access_token']}"}
    me = await auth_client.get("/auth/me", headers=bearer)
    refreshed = await auth_client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    relogin = await auth_client.post(
        "/auth/login",
        json={"email": member.email, "password": member.password, "tenant_id": tenant_id},
    )
    assert me.status_code == 401
    assert refreshed.status_code == 401
    assert relogin.status_code == 403
