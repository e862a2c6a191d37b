"""``membership_change`` on the real dev server: joining by invitation (right and wrong address),
role changes under the last-owner and grant rules, a removal that ends the member's sessions in
the tenant at once. With ``ADX_RECORD_HISTORIES=1`` the accepted invitation is the replay
history (``tests/histories/membership_change.json``)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from services.tenant.membership.activities import MembershipActivities
from services.tenant.provisioning.activities import ProvisioningActivities
from storage.db import transaction
from storage.tenants.repository import MembershipRepository
from tests.auth.mail_flows import outbox_mails, plain_text, record_history, wait_for_outbox
from tests.auth.users import create_user, login
from tests.tenant.workflows.flows import change, invite, provisioned
from tests.tenant.workflows.stack import failing, traces
from workflows.auth.principal_contracts import SYNC_PRINCIPAL_CLAIMS
from workflows.tenant.membership_contracts import (
    APPLY_MEMBERSHIP_CHANGE,
    ApplyMembershipChangeInput,
    ApplyMembershipChangeOutput,
)
from workflows.tenant.provisioning_contracts import (
    SEND_TENANT_MAIL,
    SendTenantMailInput,
    SendTenantMailOutput,
    TenantMail,
)

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


class _RedisFailingOnce:
    """The tenant worker's Redis, whose first write fails (a crash right after a commit)."""

    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._redis, name)

    async def set(self, *args: Any, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise ConnectionError("redis went away")
        return await self._redis.set(*args, **kwargs)


async def test_a_retried_change_answers_its_first_outcome_and_compensation_restores_it(
    temporal: Client,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
) -> None:
    """The apply step commits, then its worker dies before answering (and Redis is gone): the
    retry must answer the first outcome, with the role as it was *before* the change, so the
    compensation (claims cannot be synced) restores ``member``, not the new ``admin``."""
    owner, member = await create_user(auth_runtime), await create_user(auth_runtime)
    real = MembershipActivities(
        dataclasses.replace(tenant_resources, redis=_RedisFailingOnce(tenant_resources.redis))
    )
    attempts: list[int] = []

    @APPLY_MEMBERSHIP_CHANGE.implement
    async def apply_then_crash(
        input: ApplyMembershipChangeInput,
    ) -> ApplyMembershipChangeOutput:
        attempts.append(activity.info().attempt)
        output = await real.apply_membership_change(input)
        if activity.info().attempt == 1:
            raise RuntimeError("the worker died after the commit")
        return output

    async with tenant_stack() as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        digest = await invite(tenant_resources, tenant_id, owner.id, member.email)
        await (
            await change(temporal, stack, member.id, tenant_id, "accept", token_hash=digest)
        ).result()
    replace = {
        APPLY_MEMBERSHIP_CHANGE.name: apply_then_crash,
        SYNC_PRINCIPAL_CLAIMS.name: failing(SYNC_PRINCIPAL_CLAIMS),
    }
    async with tenant_stack(replace=replace) as stack:
        handle = await change(
            temporal, stack, owner.id, tenant_id, "change-role", user_id=member.id, role="admin"
        )
        refused = await _refused(handle)
    async with transaction(tenant_resources.database, uuid.UUID(tenant_id)) as db:
        row = await MembershipRepository(db, uuid.UUID(tenant_id)).of_user(member.id)

    assert attempts[:2] == [1, 2]
    assert refused == "InjectedFailure"
    assert row is not None and row.role == "member"


async def test_a_removed_member_is_mailed_once(
    temporal: Client,
    settings: Settings,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
) -> None:
    owner, member, leaver = (
        await create_user(auth_runtime),
        await create_user(auth_runtime),
        await create_user(auth_runtime),
    )
    sends: list[int] = []
    real = ProvisioningActivities(tenant_resources)

    @SEND_TENANT_MAIL.implement
    async def send_then_crash(input: SendTenantMailInput) -> SendTenantMailOutput:
        sends.append(activity.info().attempt)
        output = await real.send_tenant_mail(input)
        if input.template == TenantMail.MEMBER_REMOVED and activity.info().attempt == 1:
            raise RuntimeError("the worker died after sending")
        return output

    async with tenant_stack(replace={SEND_TENANT_MAIL.name: send_then_crash}) as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        for user in (member, leaver):
            digest = await invite(tenant_resources, tenant_id, owner.id, user.email)
            await (
                await change(temporal, stack, user.id, tenant_id, "accept", token_hash=digest)
            ).result()
        sends.clear()
        await (
            await change(temporal, stack, owner.id, tenant_id, "remove", user_id=member.id)
        ).result()
        await (
            await change(temporal, stack, leaver.id, tenant_id, "leave", user_id=leaver.id)
        ).result()
    mails = await wait_for_outbox(settings, member.email)
    await asyncio.sleep(0.5)  # a second mail would be there by now
    removed = [m for m in outbox_mails(settings, member.email) if "removed" in str(m["Subject"])]
    left = [m for m in outbox_mails(settings, leaver.email) if "removed" in str(m["Subject"])]

    assert sends == [1, 2]  # retried once, sent once
    assert len(removed) == 1 and "no longer a member" in plain_text(removed[0])
    assert mails and not left  # one who leaves is not told they were removed
