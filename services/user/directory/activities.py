"""The directory copy's activities (task queue ``<prefix>-user``), called by the tenant flows
where memberships change (``workflows/user/directory_contracts.py``). Only those flows (or the
platform itself) may run them, under their run's idempotency key: the tenant activities checked
the actor against the tenant's own rows before the change this copies. Each is idempotent
(an upsert, a delete, a status set)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.common.resources import Resources
from services.common.security_context import require_flow_step
from storage.db import transaction
from storage.users.directory import DirectoryRepository, name_text
from storage.users.preferences import PreferencesRepository
from storage.users.repository import ProfileRepository
from workflows.common.errors import business_error
from workflows.tenant.contracts import TenantWorkflow
from workflows.user import directory_contracts as contracts
from workflows.user.contracts import UserError, UserWorkflow
from workflows.user.directory_contracts import DirectoryStatus

#: The tenant service's flows that change memberships (docs/tenancy.md).
TENANT_FLOWS = (
    TenantWorkflow.TENANT_PROVISIONING,
    TenantWorkflow.MEMBERSHIP_CHANGE,
    TenantWorkflow.TENANT_SUSPENSION,
    # The user's own deactivation: its entries follow the memberships the tenant step changed.
    UserWorkflow.USER_DEACTIVATION,
)
MAX_ENTRIES = 1000


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise business_error(UserError.INVALID_INPUT, f"invalid {what}") from None


def _status(raw: str) -> str:
    try:
        return DirectoryStatus(raw).value
    except ValueError:
        raise business_error(UserError.INVALID_INPUT, "invalid directory status") from None


def _joined(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise business_error(UserError.INVALID_INPUT, "invalid joined_at") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class DirectoryActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    @contracts.SYNC_DIRECTORY.implement
    async def sync_directory(
        self, input: contracts.SyncDirectoryInput
    ) -> contracts.SyncDirectoryOutput:
        require_flow_step(input.idempotency_key, *TENANT_FLOWS)
        tenant_id = _uuid(input.tenant_id, "tenant id")
        if len(input.entries) > MAX_ENTRIES:
            raise business_error(UserError.INVALID_INPUT, f"at most {MAX_ENTRIES} entries")
        entries = [
            (_uuid(e.user_id, "user id"), e.role, _status(e.status), _joined(e.joined_at))
            for e in input.entries
        ]
        if any(role is not None and not 1 <= len(role) <= 50 for _, role, _, _ in entries):
            raise business_error(UserError.INVALID_INPUT, "a role has 1-50 characters")
        upserted = removed = 0
        async with transaction(self.database, tenant_id) as db:
            directory = DirectoryRepository(db, tenant_id)
            profiles = {
                p.id: p for p in await ProfileRepository(db).get_many([e[0] for e in entries])
            }
            for user_id, role, status, joined_at in entries:
                if role is None:
                    removed += await directory.remove(user_id)
                    continue
                profile = profiles.get(user_id)
                await directory.upsert(
                    user_id,
                    role=role,
                    status=status,
                    joined_at=joined_at,
                    display_name=profile.display_name if profile else "",
                    email=profile.email if profile else "",
                    search_name=(
                        name_text(profile.display_name, profile.given_name, profile.family_name)
                        if profile
                        else ""
                    ),
                )
                upserted += 1
        return contracts.SyncDirectoryOutput(upserted=upserted, removed=removed)

    @contracts.SET_DIRECTORY_STATUS.implement
    async def set_directory_status(
        self, input: contracts.SetDirectoryStatusInput
    ) -> contracts.SetDirectoryStatusOutput:
        require_flow_step(input.idempotency_key, *TENANT_FLOWS)
        tenant_id = _uuid(input.tenant_id, "tenant id")
        status = _status(input.status)
        async with transaction(self.database, tenant_id) as db:
            changed = await DirectoryRepository(db, tenant_id).set_status(status)
        return contracts.SetDirectoryStatusOutput(changed=changed)

    @contracts.ERASE_TENANT_DIRECTORY.implement
    async def erase_tenant_directory(
        self, input: contracts.EraseTenantDirectoryInput
    ) -> contracts.EraseTenantDirectoryOutput:
        require_flow_step(input.idempotency_key, TenantWorkflow.TENANT_SUSPENSION)
        tenant_id = _uuid(input.tenant_id, "tenant id")
        async with transaction(self.database, tenant_id) as db:
            removed = await DirectoryRepository(db, tenant_id).erase()
            await PreferencesRepository(db).erase_tenant(tenant_id)
        return contracts.EraseTenantDirectoryOutput(removed=removed)

    def all(self) -> list[Callable[..., Any]]:
        return [self.sync_directory, self.set_directory_status, self.erase_tenant_directory]
