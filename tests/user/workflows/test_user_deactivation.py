"""``user_deactivation`` on the real dev server: a member deactivated by the tenant's owner (login
refused, sessions gone, membership suspended, claims and directory entry following, profile
marked), reactivated (all restored), and each step failing in turn undone. With
``ADX_RECORD_HISTORIES=1`` the deactivation is the replay history
(``tests/histories/user_deactivation.json``)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from storage.auth.claims import ClaimsRepository
from storage.auth.repository import CredentialRepository
from storage.db import transaction
from storage.tenants.repository import MembershipRepository
from storage.users.directory import DirectoryRepository
from storage.users.repository import ProfileRepository
from tests.auth.mail_flows import record_history
from tests.auth.users import AuthUser, create_user
from tests.tenant.workflows.flows import change, invite, provisioned
from tests.tenant.workflows.stack import TenantStack, failing
from workflows.accounts.user_deactivation import (
    UserDeactivationInput,
    UserDeactivationWorkflow,
    user_deactivation_workflow_id,
)
from workflows.auth.account_status_contracts import SET_ACCOUNT_STATUS
from workflows.file.user_files_contracts import TRANSFER_USER_FILES
from workflows.tenant.member_status_contracts import SET_USER_MEMBERSHIPS
from workflows.user.account_status_contracts import SET_PROFILE_STATUS

pytestmark = pytest.mark.timeout(180)


async def _profile(user_resources: Resources, user: AuthUser) -> None:
    async with transaction(user_resources.database) as db:
        await ProfileRepository(db).create(
            id_=user.id, email=user.email, display_name="Member", idempotency_key=f"t:{user.id}"
        )


async def _member_of_a_tenant(
    temporal: Client,
    stack: TenantStack,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> tuple[AuthUser, AuthUser, str]:
    owner, member = await create_user(auth_runtime), await create_user(auth_runtime)
    for user in (owner, member):
        await _profile(user_resources, user)
    tenant_id = await provisioned(temporal, stack, owner.id)
    digest = await invite(tenant_resources, tenant_id, owner.id, member.email, "member")
    await (
        await change(temporal, stack, member.id, tenant_id, "accept", token_hash=digest)
    ).result()
    return owner, member, tenant_id


async def _start(
    temporal: Client,
    stack: TenantStack,
    owner: AuthUser,
    member: AuthUser,
    tenant_id: str,
    *,
    reactivate: bool = False,
) -> WorkflowHandle[Any, Any]:
    context = SecurityContext.for_user(str(owner.id), tenant_id=tenant_id, roles=["owner"])
    with acting_as(context):
        return await temporal.start_workflow(
            UserDeactivationWorkflow.run,
            UserDeactivationInput(
                user_id=str(member.id),
                actor_id=str(owner.id),
                tenant_id=tenant_id,
                reactivate=reactivate,
            ),
            id=user_deactivation_workflow_id(str(member.id)) + uuid.uuid4().hex[:6],
            task_queue=f"{stack.prefix}-user",
        )


async def _state(
    member: AuthUser,
    tenant_id: str,
    *,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> dict[str, Any]:
    tid = uuid.UUID(tenant_id)
    async with transaction(auth_resources.database) as db:
        credential = await CredentialRepository(db).get(member.id)
        claims = await ClaimsRepository(db).roles(member.id, tid)
    async with transaction(tenant_resources.database, tid) as db:
        membership = await MembershipRepository(db, tid).of_user(member.id)
    async with transaction(user_resources.database, tid) as db:
        profile = await ProfileRepository(db).get(member.id)
        entry = await DirectoryRepository(db, tid).entry(member.id)
    assert credential is not None and membership is not None and profile is not None
    assert entry is not None
    return {
        "disabled": credential.disabled_at is not None,
        "claims": claims,
        "membership": membership.status,
        "profile": profile.status,
        "entry": entry.status,
    }


ACTIVE = {
    "disabled": False,
    "claims": ["member"],
    "membership": "active",
    "profile": "active",
    "entry": "active",
}
DEACTIVATED = {
    "disabled": True,
    "claims": None,
    "membership": "suspended",
    "profile": "deactivated",
    "entry": "suspended",
}


async def _login(client: httpx.AsyncClient, user: AuthUser) -> httpx.Response:
    return await client.post("/auth/login", json={"email": user.email, "password": user.password})


async def test_deactivation_and_reactivation(
    temporal: Client,
    user_stack: Any,
    auth_runtime: AuthRuntime,
    auth_client: httpx.AsyncClient,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    resources = {
        "auth_resources": auth_resources,
        "tenant_resources": tenant_resources,
        "user_resources": user_resources,
    }
    async with user_stack() as stack:
        owner, member, tenant_id = await _member_of_a_tenant(
            temporal, stack, auth_runtime, tenant_resources, user_resources
        )
        session = await _login(auth_client, member)
        assert session.status_code == 200
        refresh = session.json()["tokens"]["refresh_token"]
        assert await _state(member, tenant_id, **resources) == ACTIVE

        handle = await _start(temporal, stack, owner, member, tenant_id)
        result = await handle.result()
        await record_history(handle, "user_deactivation")
        assert result.status == "deactivated" and result.sessions_revoked >= 1
        assert result.tenant_ids == [tenant_id]
        assert (await handle.query(UserDeactivationWorkflow.progress)).state == "completed"
        assert await _state(member, tenant_id, **resources) == DEACTIVATED
        refused = await _login(auth_client, member)
        wrong = await auth_client.post(
            "/auth/login", json={"email": member.email, "password": "not-the-password-1"}
        )
        assert refused.status_code == wrong.status_code == 401
        assert refused.json()["detail"] == wrong.json()["detail"]
        again = await auth_client.post("/auth/refresh", json={"refresh_token": refresh})
        assert again.status_code == 401

        # Once deactivated, a second deactivation is refused (nothing changes).
        with pytest.raises(WorkflowFailureError) as twice:
            await (await _start(temporal, stack, owner, member, tenant_id)).result()
        assert isinstance(twice.value.cause, ApplicationError)
        assert twice.value.cause.type == "AccountChangeRefused"

        back = await _start(temporal, stack, owner, member, tenant_id, reactivate=True)
        assert (await back.result()).status == "active"
        assert await _state(member, tenant_id, **resources) == ACTIVE
        assert (await _login(auth_client, member)).status_code == 200


@pytest.mark.parametrize(
    "contract", [SET_PROFILE_STATUS, SET_ACCOUNT_STATUS, SET_USER_MEMBERSHIPS, TRANSFER_USER_FILES]
)
async def test_a_failing_step_is_undone(
    contract: Any,
    temporal: Client,
    user_stack: Any,
    auth_runtime: AuthRuntime,
    auth_client: httpx.AsyncClient,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    resources = {
        "auth_resources": auth_resources,
        "tenant_resources": tenant_resources,
        "user_resources": user_resources,
    }
    async with user_stack() as stack:
        owner, member, tenant_id = await _member_of_a_tenant(
            temporal, stack, auth_runtime, tenant_resources, user_resources
        )
    async with user_stack(replace={contract.name: failing(contract)}) as broken:
        broken = TenantStack(prefix=broken.prefix, queue=broken.queue)
        handle = await _start(temporal, broken, owner, member, tenant_id)
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        assert isinstance(failure.value.cause, ApplicationError)
        assert failure.value.cause.type == "InjectedFailure"
        assert (await handle.query(UserDeactivationWorkflow.progress)).state == "failed"
    assert await _state(member, tenant_id, **resources) == ACTIVE
    assert (await _login(auth_client, member)).status_code == 200
