"""``tenant.sync_member_profiles`` (queue ``<prefix>-tenant``), the tenant step of the user
service's ``user_profile_sync``: the profile's display name and address onto the user's
membership in every tenant, each written in its own tenant's transaction (writes stay bound to
the tenant). Version-guarded: a retried or late delivery changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.common.resources import Resources
from services.common.security_context import require_flow_step
from storage.db import transaction
from storage.tenants.profile_copies import copy_member_profile
from storage.tenants.repository import MembershipRepository
from workflows.tenant.profile_copies_contracts import SYNC_MEMBER_PROFILES
from workflows.user.contracts import UserWorkflow
from workflows.user.profile_sync_contracts import (
    ProfileCopyInput,
    ProfileCopyOutput,
    checked_copy,
)


class MemberProfileActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    @SYNC_MEMBER_PROFILES.implement
    async def sync_member_profiles(self, input: ProfileCopyInput) -> ProfileCopyOutput:
        require_flow_step(input.idempotency_key, UserWorkflow.USER_PROFILE_SYNC)
        user_id = checked_copy(input)
        # The user's own memberships are readable in every tenant (policy ``own_memberships``).
        async with transaction(self.database, user_id=user_id) as db:
            memberships = await MembershipRepository(db, user_id).of_user_everywhere(user_id)
        changed = 0
        for tenant_id in sorted({m.tenant_id for m in memberships}):
            async with transaction(self.database, tenant_id) as db:
                changed += await copy_member_profile(
                    db,
                    tenant_id,
                    user_id,
                    display_name=input.display_name,
                    email=input.email,
                    version=input.version,
                )
        return ProfileCopyOutput(changed=changed)

    def all(self) -> list[Callable[..., Any]]:
        return [self.sync_member_profiles]
