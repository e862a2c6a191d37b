"""Helpers of the ``user_onboarding`` tests: the stack's queues, a provisioned tenant, starting
an onboarding as someone, and what every schema holds about one person (to count what is left)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WorkflowHandle

from services.common.onboarding import start_user_onboarding
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from storage.auth.claims import ClaimsRepository
from storage.auth.repository import CredentialRepository
from storage.db import transaction
from storage.tenants.repository import MembershipRepository
from storage.users.directory import DirectoryRepository
from storage.users.first_runs import FirstRunRepository
from storage.users.preferences import PreferencesRepository
from storage.users.repository import ProfileRepository
from workflows.onboarding.contracts import UserOnboardingInput, UserOnboardingResult
from workflows.tenant.tenant_provisioning import (
    TenantProvisioningInput,
    TenantProvisioningWorkflow,
    tenant_provisioning_workflow_id,
)


@dataclass(frozen=True)
class OnboardingStack:
    #: ``<prefix>-tenant`` (provisioning) and ``<prefix>-workflow`` (onboarding).
    tenant: str
    workflow: str


async def provisioned(temporal: Client, stack: OnboardingStack, owner_id: uuid.UUID) -> str:
    slug = f"t-{uuid.uuid4().hex[:10]}"
    with acting_as(SecurityContext.for_user(str(owner_id))):
        handle = await temporal.start_workflow(
            TenantProvisioningWorkflow.run,
            TenantProvisioningInput(slug=slug, name=f"Tenant {slug}", owner_id=str(owner_id)),
            id=tenant_provisioning_workflow_id(slug),
            task_queue=stack.tenant,
        )
    return str((await handle.result()).tenant_id)


def request(tenant_id: str, actor: uuid.UUID, email: str, **fields: Any) -> UserOnboardingInput:
    fields.setdefault("role", "member")
    fields.setdefault("idempotency_key", f"test-{uuid.uuid4().hex}")
    return UserOnboardingInput(tenant_id=tenant_id, email=email, actor_id=str(actor), **fields)


async def onboard(
    temporal: Client,
    stack: OnboardingStack,
    input: UserOnboardingInput,
    *,
    context: SecurityContext | None = None,
) -> WorkflowHandle[Any, UserOnboardingResult]:
    with acting_as(context or SecurityContext.for_user(input.actor_id)):
        return await start_user_onboarding(temporal, input, task_queue=stack.workflow)


@dataclass
class PersonTraces:
    """What each service holds about one address in one tenant."""

    account: uuid.UUID | None
    membership: str | None
    claims: list[str] | None
    profile: bool
    preferences: int
    directory: bool
    first_run: bool

    @property
    def empty(self) -> bool:
        return (
            self.account is None
            and self.membership is None
            and self.claims is None
            and not self.profile
            and not self.preferences
            and not self.directory
            and not self.first_run
        )


async def traces(
    email: str,
    tenant_id: str,
    *,
    auth: Resources,
    tenant: Resources,
    user: Resources,
    user_id: uuid.UUID | None = None,
) -> PersonTraces:
    tid = uuid.UUID(tenant_id)
    async with transaction(auth.database) as db:
        credential = await CredentialRepository(db).get_by_email(email)
        uid = credential.id if credential else user_id
        claims = await ClaimsRepository(db).roles(uid, tid) if uid else None
    if uid is None:
        return PersonTraces(None, None, None, False, 0, False, False)
    async with transaction(tenant.database, tid) as db:
        member = await MembershipRepository(db, tid).of_user(uid)
    async with transaction(user.database, tid, user_id=uid) as db:
        profile = await ProfileRepository(db).get(uid)
        preferences = PreferencesRepository(db)
        count = sum(
            [
                await preferences.of(uid, None) is not None,
                await preferences.of(uid, tid) is not None,
            ]
        )
        entry = await DirectoryRepository(db, tid).entry(uid)
        first_run = await FirstRunRepository(db, tid).of(uid)
    return PersonTraces(
        account=credential.id if credential else None,
        membership=member.role if member else None,
        claims=claims,
        profile=profile is not None,
        preferences=count,
        directory=entry is not None,
        first_run=first_run is not None,
    )
