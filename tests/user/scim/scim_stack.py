"""The SCIM write tests' world: the auth, tenant, file, user and workflow workers in process on a
fresh task-queue prefix (``tests/workers.py``), the user app on that prefix, a provisioned tenant
whose owner issued a SCIM token through the real route, and members joined by invitation (the
real ``membership_change``), each with a profile; and what the other services hold of a member
(account, claims, membership), read straight from their tables."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.user.service import SPEC as USER
from storage.auth.claims import ClaimsRepository
from storage.auth.repository import CredentialRepository
from storage.db import transaction
from storage.tenants.repository import MembershipRepository
from storage.users.directory import DirectoryRepository
from storage.users.repository import ProfileRepository
from tests.auth.users import AuthUser, create_user
from tests.tenant.workflows.flows import change, invite, provisioned
from tests.tenant.workflows.stack import TenantStack
from tests.user.scim.scim_api import issue_token
from tests.user.user_api import Team, UserApi
from tests.workers import running_workers


@dataclass
class ScimWorld:
    api: UserApi
    temporal: Client
    stack: TenantStack
    auth: AuthRuntime
    resources: dict[str, Resources]

    async def tenant(self, members: int = 1) -> ScimTenantOf:
        """A provisioned tenant: its owner, ``members`` people joined as ``member``, and a SCIM
        token the owner issued."""
        owner = await self.person()
        tenant_id = uuid.UUID(await provisioned(self.temporal, self.stack, owner.id))
        people = []
        for _ in range(members):
            member = await self.person()
            await self.join(tenant_id, owner, member)
            people.append(member)
        team = Team(tenant_id, owner.id, owner.id, owner.id, owner.id)
        token, _ = await issue_token(self.api, team)
        return ScimTenantOf(tenant_id, owner, people, token)

    async def join(self, tenant_id: uuid.UUID, owner: AuthUser, member: AuthUser) -> None:
        """``member`` joins ``tenant_id`` as ``member`` by the owner's invitation."""
        tid = str(tenant_id)
        digest = await invite(self.resources["tenant"], tid, owner.id, member.email, "member")
        handle = await change(
            self.temporal, self.stack, member.id, tid, "accept", token_hash=digest
        )
        await handle.result()

    async def person(self) -> AuthUser:
        user = await create_user(self.auth)
        async with transaction(self.resources["user"].database) as db:
            await ProfileRepository(db).create(
                id_=user.id,
                email=user.email,
                display_name=f"Person {user.id.hex[:6]}",
                idempotency_key=f"t:{user.id}",
            )
        return user

    async def trace(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        """What each service holds of ``user_id`` in ``tenant_id``."""
        async with transaction(self.resources["auth"].database) as db:
            credential = await CredentialRepository(db).get(user_id)
            claims = await ClaimsRepository(db).roles(user_id, tenant_id)
        async with transaction(self.resources["tenant"].database, tenant_id) as db:
            membership = await MembershipRepository(db, tenant_id).of_user(user_id)
        async with transaction(self.resources["user"].database, tenant_id) as db:
            profile = await ProfileRepository(db).get(user_id)
            entry = await DirectoryRepository(db, tenant_id).entry(user_id)
        return {
            "disabled": credential.disabled_at is not None if credential else None,
            "claims": claims,
            "membership": (membership.role, membership.status) if membership else None,
            "entry": (entry.role, entry.status) if entry else None,
            "profile": profile,
        }


@dataclass
class ScimTenantOf:
    tenant_id: uuid.UUID
    owner: AuthUser
    members: list[AuthUser]
    token: str


def scim_world_factory(
    settings: Settings,
    temporal: Client,
    auth_runtime: AuthRuntime,
    services: dict[str, Resources],
) -> Callable[[], Any]:
    from services.auth.service import SPEC as AUTH
    from services.file.service import SPEC as FILE
    from services.tenant.service import SPEC as TENANT
    from services.workflow.service import SPEC as WORKFLOW

    specs = [
        (AUTH, services["auth"]),
        (TENANT, services["tenant"]),
        (FILE, services["file"]),
        (USER, services["user"]),
    ]
    # The workflow service's worker runs user_onboarding (POST /Users), once it has workflows.
    if WORKFLOW.workflows:
        specs.append((WORKFLOW, services["workflow"]))

    @asynccontextmanager
    async def run() -> AsyncIterator[ScimWorld]:
        prefix = f"sc{uuid.uuid4().hex[:8]}"
        async with running_workers(settings, specs, prefix) as local:
            resources = dataclasses.replace(services["user"], settings=local)
            api = UserApi(USER.build_app(resources), auth_runtime, resources)
            stack = TenantStack(prefix=prefix, queue=local.task_queue(ServiceName.tenant))
            yield ScimWorld(api, temporal, stack, auth_runtime, services)

    return run
