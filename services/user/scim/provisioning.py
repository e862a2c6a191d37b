"""The SCIM writes that span services, each one workflow that the route starts and waits for
(SCIM has no asynchronous answer): ``user_onboarding`` (``POST /Users``), ``user_deactivation``
(``active`` false or true), ``membership_change`` (``DELETE /Users``: REMOVE; a Group's members:
CHANGE_ROLE), ``role_change`` (``POST /Groups``: CREATE, ``DELETE /Groups``: DELETE). Each acts as the token's issuer (the admin who issued it) in the token's tenant,
so the workflows' own checks (``members.manage``, an owner only by an owner, the last owner)
apply as for that admin's own request; a refusal is a SCIM error, never a 5xx, and a run that
does not finish within ``RESULT_SECONDS`` a SCIM 503 (the run goes on; a retry of the same
write finds it, or its effect, by its id)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any, Final

from temporalio.exceptions import ApplicationError

from services.common import workflow_calls
from services.common.errors import DomainError
from services.common.onboarding import OnboardingInputError, start_user_onboarding
from services.common.resources import Resources
from services.common.security_context import (
    SECURITY_CONTEXT_DENIED,
    SecurityContext,
    acting_as,
)
from services.common.settings import ServiceName
from services.common.workflow_calls import WorkflowErrors
from services.user.scim.credentials import ScimWriter
from services.user.scim.errors import ScimError, ScimRefusal, invalid_value
from storage.users.directory import DirectoryRepository
from workflows.accounts.user_deactivation import (
    UserDeactivationInput,
    UserDeactivationWorkflow,
    user_deactivation_workflow_id,
)
from workflows.auth.contracts import address_digest
from workflows.onboarding.contracts import UserOnboardingInput, UserOnboardingResult
from workflows.tenant.contracts import TenantError
from workflows.tenant.membership_change import (
    MembershipChangeInput,
    MembershipChangeWorkflow,
    membership_change_workflow_id,
)
from workflows.tenant.membership_contracts import MembershipChangeKind
from workflows.tenant.permissions import Permission, built_in_permissions
from workflows.tenant.role_change import (
    RoleChangeInput,
    RoleChangeResult,
    RoleChangeWorkflow,
    role_change_workflow_id,
)
from workflows.tenant.role_change_contracts import RoleChangeKind
from workflows.user.contracts import UserError

#: How long a write waits for its workflow before answering 503 (the run goes on).
RESULT_SECONDS: Final = 60.0
BUSY = "a provisioning change of this resource is in progress; retry when it is done"

_NOT_FOUND = {
    UserError.USER_NOT_FOUND,
    TenantError.UNKNOWN_ROLE,
    TenantError.MEMBER_NOT_FOUND,
    TenantError.NOT_A_MEMBER,
    TenantError.TENANT_NOT_FOUND,
}
_FORBIDDEN = {
    UserError.PERMISSION_DENIED,
    TenantError.PERMISSION_DENIED,
    TenantError.OWNER_REQUIRED,
    TenantError.GRANT_EXCEEDS_OWN,
    SECURITY_CONTEXT_DENIED,
}
#: The rules of the platform refuse the change of this resource (SCIM's ``mutability``).
_MUTABILITY = {UserError.ACCOUNT_CHANGE_REFUSED, TenantError.LAST_OWNER}
_CONFLICT = {
    TenantError.TENANT_NOT_ACTIVE,
    TenantError.SEAT_QUOTA_EXCEEDED,
    TenantError.ROLE_IN_USE,
}


def refusal(cause: ApplicationError) -> DomainError:
    """A workflow's business failure as a SCIM error (its message, without the value)."""
    kind, detail = cause.type or "", cause.message[:300]
    if kind in _NOT_FOUND:
        return ScimRefusal(404, detail)
    if kind in _FORBIDDEN:
        return ScimRefusal(403, detail)
    if kind in _MUTABILITY:
        return ScimRefusal(400, detail, "mutability")
    if kind in (TenantError.ALREADY_A_MEMBER, TenantError.ROLE_EXISTS):
        return ScimRefusal(409, detail, "uniqueness")
    if kind in _CONFLICT:
        return ScimRefusal(409, detail)
    return ScimRefusal(400, detail, "invalidValue")


def _errors(call: str, busy: Callable[[], DomainError] | None = None) -> WorkflowErrors:
    return WorkflowErrors(
        call=call,
        unavailable="the provisioning workflow did not answer in time; retry",
        already_started=busy or (lambda: ScimRefusal(409, BUSY)),
        business=refusal,
    )


async def acting(writer: ScimWriter, *, checked_by_tenant: bool = False) -> SecurityContext:
    """The issuer of the token, as a member of its tenant, checked against the directory copy
    before anything starts: an active member (else 403: issue a new token), holding
    ``members.manage`` by a built-in role. A custom role's permissions are the tenant
    service's: its holders' tokens make only the changes the tenant service checks itself
    (``checked_by_tenant``: a membership change), not profile edits or deactivations."""
    async with writer.transaction() as db:
        entry = await DirectoryRepository(db, writer.tenant_id).entry(writer.issuer_id)
    if entry is None or entry.status != "active":
        raise ScimError(
            403, "the token's issuer is no longer an active member of the tenant: issue a new one"
        )
    permissions = built_in_permissions(entry.role)
    manages = permissions is not None and Permission.MEMBERS_MANAGE in permissions
    if not manages and not (checked_by_tenant and permissions is None):
        raise ScimError(403, "the token's issuer does not hold members.manage")
    return SecurityContext.for_user(
        str(writer.issuer_id), tenant_id=str(writer.tenant_id), roles=[entry.role]
    )


async def _execute(
    resources: Resources,
    context: SecurityContext,
    run: Any,
    arg: Any,
    *,
    workflow_id: str,
    queue: ServiceName,
    errors: WorkflowErrors,
) -> Any:
    with acting_as(context):
        return await workflow_calls.execute(
            resources.temporal,
            run,
            arg,
            id=workflow_id,
            task_queue=resources.settings.task_queue(queue),
            errors=errors,
            result_timeout=RESULT_SECONDS,
        )


async def set_active(
    resources: Resources, writer: ScimWriter, user_id: uuid.UUID, active: bool
) -> None:
    """``active`` false: ``user_deactivation`` (logins refused, sessions ended, memberships
    suspended, profile deactivated); true: its reactivation."""
    context = await acting(writer)
    await _execute(
        resources,
        context,
        UserDeactivationWorkflow.run,
        UserDeactivationInput(
            user_id=str(user_id),
            actor_id=str(writer.issuer_id),
            tenant_id=str(writer.tenant_id),
            reactivate=active,
        ),
        workflow_id=user_deactivation_workflow_id(str(user_id)),
        queue=ServiceName.user,
        errors=_errors("scim-user-deactivation"),
    )


async def change_membership(
    resources: Resources,
    writer: ScimWriter,
    user_id: uuid.UUID,
    kind: MembershipChangeKind,
    role: str | None = None,
) -> None:
    context = await acting(writer, checked_by_tenant=True)
    await _execute(
        resources,
        context,
        MembershipChangeWorkflow.run,
        MembershipChangeInput(
            tenant_id=str(writer.tenant_id),
            kind=kind.value,
            actor_id=str(writer.issuer_id),
            user_id=str(user_id),
            role=role,
        ),
        workflow_id=membership_change_workflow_id(kind.value, str(writer.tenant_id), str(user_id)),
        queue=ServiceName.tenant,
        errors=_errors("scim-membership-change"),
    )


async def change_role(
    resources: Resources,
    writer: ScimWriter,
    kind: RoleChangeKind,
    name: str,
    external_id: str | None = None,
) -> RoleChangeResult:
    """``role_change`` (queue ``<prefix>-tenant``): a custom role created (with SCIM's record of
    it) or deleted; the tenant checks the issuer's ``roles.manage`` against its rows."""
    context = await acting(writer, checked_by_tenant=True)
    result: RoleChangeResult = await _execute(
        resources,
        context,
        RoleChangeWorkflow.run,
        RoleChangeInput(
            tenant_id=str(writer.tenant_id),
            kind=kind.value,
            actor_id=str(writer.issuer_id),
            name=name,
            external_id=external_id,
        ),
        workflow_id=role_change_workflow_id(kind.value, str(writer.tenant_id), name),
        queue=ServiceName.tenant,
        errors=_errors("scim-role-change"),
    )
    return result


def onboarding_key(tenant_id: uuid.UUID, email: str) -> str:
    """One onboarding per tenant and address (no personal data in it): a retried ``POST /Users``
    meets the run it started (``start_user_onboarding`` joins it), never a second person."""
    return f"scim:{tenant_id}:{address_digest(email)}"


async def onboard(
    resources: Resources, writer: ScimWriter, person: UserOnboardingInput
) -> UserOnboardingResult:
    """``user_onboarding`` (queue ``<prefix>-workflow``): the account (auth), the membership
    (tenant), the profile, defaults and directory entry (user); compensated by the workflow."""
    context = await acting(writer)
    with acting_as(context), workflow_calls.mapped(_errors("scim-user-onboarding")):
        try:
            handle = await start_user_onboarding(
                resources.temporal,
                person,
                task_queue=resources.settings.task_queue(ServiceName.workflow),
            )
        except OnboardingInputError as error:
            raise invalid_value(str(error)[:300]) from None
        result: UserOnboardingResult = await asyncio.wait_for(handle.result(), RESULT_SECONDS)
        return result
