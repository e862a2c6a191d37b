"""``tenant.share_recipients`` (queue ``<prefix>-tenant``), read only: a member share's member
is an active member of the tenant, a role share's role exists (built in or the tenant's own),
and the addresses (copied from profiles onto the memberships) of the active members reached,
the sharer left out. Only ``file_sharing`` runs of the caller's tenant may ask."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.common.resources import Resources
from services.common.security_context import ActorKind, denied, require_flow_step
from storage.db import transaction
from storage.tenants.models import MembershipStatus
from storage.tenants.repository import MembershipRepository, RoleRepository
from workflows.file.contracts import FileWorkflow
from workflows.file.sharing_contracts import (
    MAX_RECIPIENTS,
    SHARE_RECIPIENTS,
    ShareRecipientsInput,
    ShareRecipientsOutput,
)
from workflows.tenant.permissions import is_built_in

ACTIVE = MembershipStatus.ACTIVE.value


class ShareRecipientActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    @SHARE_RECIPIENTS.implement
    async def share_recipients(self, input: ShareRecipientsInput) -> ShareRecipientsOutput:
        context = require_flow_step(input.idempotency_key, FileWorkflow.FILE_SHARING)
        if context.actor != ActorKind.system and context.tenant_id != input.tenant_id:
            raise denied("a file_sharing run reads only its caller's tenant")
        tenant_id = uuid.UUID(input.tenant_id)
        async with transaction(self.database, tenant_id) as db:
            members = MembershipRepository(db, tenant_id)
            if input.kind == "member":
                try:
                    member = await members.of_user(uuid.UUID(input.grantee or ""))
                except ValueError:
                    member = None
                if member is None or member.status != ACTIVE:
                    return ShareRecipientsOutput(False, "not an active member of this tenant")
                found = [member]
            elif input.kind == "role":
                role = input.grantee or ""
                if (
                    not is_built_in(role)
                    and await RoleRepository(db, tenant_id).by_name(role) is None
                ):
                    return ShareRecipientsOutput(False, "no such role in this tenant")
                found, _ = await members.page(first=MAX_RECIPIENTS + 1, role=role, status=ACTIVE)
            elif input.kind == "tenant":
                found, _ = await members.page(first=MAX_RECIPIENTS + 1, status=ACTIVE)
            else:
                return ShareRecipientsOutput(False, f"a {input.kind} share has no members")
        emails = sorted({m.email for m in found if m.email and str(m.user_id) != input.sharer_id})
        return ShareRecipientsOutput(True, None, emails[:MAX_RECIPIENTS])

    def all(self) -> list[Callable[..., Any]]:
        return [self.share_recipients]
