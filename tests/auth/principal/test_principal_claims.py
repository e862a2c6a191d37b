"""Claims sync: another service's workflow changes a membership through auth's activity, and
the next token carries it; removing it (optionally) ends the tenant's sessions at once."""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.auth.principal.activities import PrincipalActivities
from services.auth.runtime import AuthRuntime
from services.common.security_context import SecurityContext, acting_as
from tests.auth.users import AuthUser, login
from workflows.auth.principal_contracts import SyncPrincipalClaimsInput


@acting_as(SecurityContext.system("test"))
async def test_synced_roles_appear_in_tokens_and_removal_revokes(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime
) -> None:
    activities = PrincipalActivities(auth_runtime)
    env = ActivityEnvironment()
    tenant = uuid.uuid4()
    sync = SyncPrincipalClaimsInput(str(user.id), str(tenant), ["member", "admin", "admin"])

    first = await env.run(activities.sync_principal_claims, sync)
    again = await env.run(activities.sync_principal_claims, sync)  # retried activity
    tokens = await login(auth_client, user, tenant_id=str(tenant))
    claims = jwt.decode(str(tokens["access_token"]), options={"verify_signature": False})
    removed = await env.run(
        activities.sync_principal_claims,
        SyncPrincipalClaimsInput(str(user.id), str(tenant), [], revoke_tenant_sessions=True),
    )
    me = await auth_client.get(
        "/auth/me", headers={"authorization": f"Bearer {tokens['access_token']}"}
    )
    relogin = await auth_client.post(
        "/auth/login",
        json={"email": user.email, "password": user.password, "tenant_id": str(tenant)},
    )

    assert first.member and again.member
    assert claims["tid"] == str(tenant) and claims["roles"] == ["admin", "member"]
    assert removed.member is False and removed.sessions_revoked == 1
    assert me.status_code == 401
    assert relogin.status_code == 403


@pytest.mark.parametrize(
    ("user_id", "roles"),
    [("not-a-uuid", ["member"]), (str(uuid.uuid4()), ["x" * 51]), (str(uuid.uuid4()), [""])],
)
async def test_bad_input_is_a_non_retryable_business_error(
    auth_runtime: AuthRuntime, user_id: str, roles: list[str]
) -> None:
    with pytest.raises(ApplicationError) as error:
        await ActivityEnvironment().run(
            PrincipalActivities(auth_runtime).sync_principal_claims,
            SyncPrincipalClaimsInput(user_id, str(uuid.uuid4()), roles),
        )
    assert error.value.non_retryable and error.value.type == "InvalidInput"
