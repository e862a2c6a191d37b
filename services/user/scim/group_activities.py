"""``user.sync_scim_group`` (task queue ``<prefix>-user``), the user service's step of
``role_change``: the record that SCIM knows a custom role (``users.scim_groups``, with its
``externalId``), so its Group is listed while nobody holds it, and its removal. Only that flow
(or the platform) runs it, under its run's key; an upsert or a delete, so repeating it changes
nothing. The tenant step before it checked the actor against the tenant's rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.common.resources import Resources
from services.common.security_context import require_flow_step
from storage.db import transaction
from storage.users.scim_records import ExternalIdTakenError, ScimGroupRecords
from workflows.common.errors import business_error
from workflows.tenant.contracts import TenantWorkflow
from workflows.tenant.role_change_contracts import (
    SYNC_SCIM_GROUP,
    SyncScimGroupInput,
    SyncScimGroupOutput,
)
from workflows.user.contracts import UserError

ROLE_MAX = 50
EXTERNAL_ID_MAX = 255


class ScimGroupActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    @SYNC_SCIM_GROUP.implement
    async def sync_scim_group(self, input: SyncScimGroupInput) -> SyncScimGroupOutput:
        require_flow_step(input.idempotency_key, TenantWorkflow.ROLE_CHANGE)
        try:
            tenant_id = uuid.UUID(input.tenant_id)
        except ValueError:
            raise business_error(UserError.INVALID_INPUT, "invalid tenant id") from None
        if not 1 <= len(input.role) <= ROLE_MAX:
            raise business_error(UserError.INVALID_INPUT, f"a role has 1-{ROLE_MAX} characters")
        if input.external_id is not None and len(input.external_id) > EXTERNAL_ID_MAX:
            raise business_error(UserError.INVALID_INPUT, "externalId: at most 255 characters")
        try:
            async with transaction(self.database, tenant_id) as db:
                groups = ScimGroupRecords(db, tenant_id)
                if input.present:
                    await groups.save(input.role, input.external_id)
                else:
                    await groups.remove(input.role)
        except ExternalIdTakenError:
            raise business_error(
                UserError.INVALID_INPUT, "another Group of this tenant has this externalId"
            ) from None
        return SyncScimGroupOutput(changed=True)

    def all(self) -> list[Callable[..., Any]]:
        return [self.sync_scim_group]
