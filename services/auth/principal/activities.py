"""Activities that tenant and user workflows call on ``adx-auth``: the membership and role
claims auth puts in tokens live in auth's own tables, updated only through these (never by
HTTP between services). Idempotent by nature: an upsert, and revoking only active sessions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from temporalio.exceptions import ApplicationError

from services.auth.runtime import AuthRuntime
from services.common.security_context import (
    TENANT_ADMIN_ROLES,
    require_context,
    require_flow,
    require_tenant,
)
from storage.auth.audit import AuditRepository
from storage.auth.claims import ClaimsRepository
from storage.auth.sessions import active_session_ids_in_tenant
from storage.db import transaction
from workflows.auth import principal_contracts
from workflows.auth.contracts import AuthError
from workflows.common.errors import business_error
from workflows.onboarding.contracts import OnboardingWorkflow
from workflows.tenant.contracts import TenantWorkflow
from workflows.user.contracts import UserWorkflow

MAX_ROLES = 20
#: The tenant service's own flows: they check the actor against the tenant's rows (permission,
#: owner and invitation rules) in their activities before they sync claims, so a member who
#: accepts an invitation, leaves, or resumes a suspended tenant (no token into it) can be synced.
#: ``user_deactivation`` (user service) syncs the claims of the memberships the tenant service's
#: step suspended or restored, from its answer; ``user_onboarding`` (workflow service) those of
#: the membership ``tenant.add_onboarded_member`` added after checking the actor.
TENANT_FLOWS = (
    TenantWorkflow.TENANT_PROVISIONING,
    TenantWorkflow.MEMBERSHIP_CHANGE,
    TenantWorkflow.TENANT_SUSPENSION,
    UserWorkflow.USER_DEACTIVATION,
    OnboardingWorkflow.USER_ONBOARDING,
)
#: The catalogue (``workflows.tenant.permissions``) has a dozen; room for it to grow.
MAX_PERMISSIONS = 100


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as error:
        raise business_error(AuthError.INVALID_INPUT, f"invalid {what}: {raw!r}") from error


class PrincipalActivities:
    def __init__(self, runtime: AuthRuntime) -> None:
        self.runtime = runtime

    @principal_contracts.SYNC_PRINCIPAL_CLAIMS.implement
    async def sync_principal_claims(
        self, input: principal_contracts.SyncPrincipalClaimsInput
    ) -> principal_contracts.SyncPrincipalClaimsOutput:
        user_id, tenant_id = _uuid(input.user_id, "user id"), _uuid(input.tenant_id, "tenant id")
        roles = sorted(set(input.roles))
        if len(roles) > MAX_ROLES or any(not r or len(r) > 50 for r in roles):
            raise business_error(
                AuthError.INVALID_INPUT, "roles must be 1-50 characters, at most 20"
            )
        permissions = sorted(set(input.permissions)) if roles else []
        if len(permissions) > MAX_PERMISSIONS or any(not p or len(p) > 40 for p in permissions):
            raise business_error(
                AuthError.INVALID_INPUT, "permissions must be 1-40 characters, at most 100"
            )
        try:
            require_flow(require_context(), *TENANT_FLOWS)
        except ApplicationError:
            require_tenant(input.tenant_id, roles=TENANT_ADMIN_ROLES)
        async with transaction(self.runtime.resources.database) as db:
            claims = ClaimsRepository(db)
            if roles:
                await claims.put(user_id, tenant_id, roles, permissions)
            else:
                await claims.remove(user_id, tenant_id)
            await AuditRepository(db).record(
                "claims.synced",
                user_id=user_id,
                tenant_id=str(tenant_id),
                roles=roles,
                permissions=permissions,
            )
            session_ids: list[uuid.UUID] = []
            if input.revoke_tenant_sessions:
                session_ids = await active_session_ids_in_tenant(db, user_id, tenant_id)
        for session_id in session_ids:
            await self.runtime.sessions.revoke(user_id, session_id, "claims_changed")
        return principal_contracts.SyncPrincipalClaimsOutput(
            member=bool(roles), sessions_revoked=len(session_ids)
        )

    def all(self) -> list[Callable[..., Any]]:
        return [self.sync_principal_claims]
