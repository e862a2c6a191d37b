"""Activities of ``tenant_switching`` on ``<prefix>-user``: the user's ``last_tenant`` preference
(user scope, ``services/user/preferences/schema_v1.json``), written through the preferences'
own repository and schema.

Ordered by the switch's moment (``switched_at``), like ``tenants.active_tenants``: a late or
retried run of an older switch never overwrites a newer one. The compensation puts the previous
value back only while the stored one is still this run's (same tenant, same moment)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.common.resources import Resources
from services.common.security_context import require_flow, require_user_or_system
from services.user.preferences import document
from services.user.preferences.document import CURRENT_VERSION, PreferencesInvalid, Scope
from storage.db import transaction
from storage.users.preferences import PreferencesRepository
from workflows.common.errors import business_error
from workflows.tenant import switching_contracts as contracts
from workflows.tenant.contracts import TenantWorkflow
from workflows.user.contracts import UserError

#: The preference's key in the user scope.
LAST_TENANT = "last_tenant"


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except (ValueError, AttributeError, TypeError):
        raise business_error(UserError.INVALID_INPUT, f"invalid {what}") from None


def _moment(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except (ValueError, TypeError):
        raise business_error(UserError.INVALID_INPUT, "invalid switched_at") from None
    if moment.tzinfo is None:
        raise business_error(UserError.INVALID_INPUT, "switched_at without a time zone")
    return moment


def _check(user_id: str) -> uuid.UUID:
    context = require_user_or_system(user_id)
    require_flow(context, TenantWorkflow.TENANT_SWITCHING)
    return _uuid(user_id, "user id")


def _stored_moment(value: Any) -> datetime | None:
    """The stored preference's moment (None: none, or one this code cannot read)."""
    if not isinstance(value, dict):
        return None
    try:
        return _moment(str(value.get("switched_at")))
    except Exception:
        return None


class SwitchingActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @contracts.RECORD_LAST_TENANT.implement
    async def record_last_tenant(
        self, input: contracts.RecordLastTenantInput
    ) -> contracts.RecordLastTenantOutput:
        user_id = _check(input.user_id)
        tenant_id = str(_uuid(input.tenant_id, "tenant id"))
        moment = _moment(input.switched_at)
        async with transaction(self.resources.database, user_id=user_id) as db:
            repo = PreferencesRepository(db)
            await repo.lock_user_row(user_id)  # two sessions switching at once: in turn
            row = await repo.of(user_id, None)
            stored = document.upgraded(row.schema_version, dict(row.values)) if row else {}
            current = stored.get(LAST_TENANT)
            previous_id = current.get("tenant_id") if isinstance(current, dict) else None
            previous_at = current.get("switched_at") if isinstance(current, dict) else None
            at = _stored_moment(current)
            if at is not None and at >= moment:
                # A newer switch's (or this one's, retried): it stands.
                same = previous_id == tenant_id and at == moment
                return contracts.RecordLastTenantOutput(
                    previous_tenant_id=None if same else previous_id,
                    previous_switched_at=None if same else previous_at,
                    recorded=same,
                )
            values = {k: v for k, v in stored.items() if k != LAST_TENANT}
            values[LAST_TENANT] = {"tenant_id": tenant_id, "switched_at": input.switched_at}
            try:
                checked = document.validate(Scope.USER, values)
            except PreferencesInvalid as invalid:
                raise business_error(UserError.INVALID_PREFERENCES, str(invalid)) from None
            await repo.put(user_id, None, schema_version=CURRENT_VERSION, values=checked)
        return contracts.RecordLastTenantOutput(
            previous_tenant_id=previous_id, previous_switched_at=previous_at, recorded=True
        )

    @contracts.RESTORE_LAST_TENANT.implement
    async def restore_last_tenant(
        self, input: contracts.RestoreLastTenantInput
    ) -> contracts.RestoreLastTenantOutput:
        user_id = _check(input.user_id)
        moment = _moment(input.switched_at)
        async with transaction(self.resources.database, user_id=user_id) as db:
            repo = PreferencesRepository(db)
            await repo.lock_user_row(user_id)
            row = await repo.of(user_id, None)
            stored = document.upgraded(row.schema_version, dict(row.values)) if row else {}
            current = stored.get(LAST_TENANT)
            mine = (
                isinstance(current, dict)
                and current.get("tenant_id") == input.tenant_id
                and _stored_moment(current) == moment
            )
            if not mine:  # already restored, or a newer switch wrote since: leave it
                return contracts.RestoreLastTenantOutput(restored=False)
            values = {k: v for k, v in stored.items() if k != LAST_TENANT}
            if input.previous_tenant_id is not None and input.previous_switched_at is not None:
                values[LAST_TENANT] = {
                    "tenant_id": input.previous_tenant_id,
                    "switched_at": input.previous_switched_at,
                }
            await repo.put(user_id, None, schema_version=CURRENT_VERSION, values=values)
        return contracts.RestoreLastTenantOutput(restored=True)

    def all(self) -> list[Callable[..., Any]]:
        return [self.record_last_tenant, self.restore_last_tenant]
