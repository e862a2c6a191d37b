"""``tenant_switching``: the bookkeeping after a user switched their session into another tenant.

The switch itself is immediate and the auth service's own write (``POST /auth/switch-tenant``:
the session's tenant changes and new tokens come back in the same answer). That route then
starts this run, which records the user's last active tenant (``tenants.active_tenants``, the
tenant service's) and drops the user's cached permissions in the tenants the session left. Saga:
when the cache cannot be revoked, the recorded tenant is put back and the run fails (the switch
stands: the session is already in the new tenant and its tokens say so).

Across services (patch ``tenant-switching-services``, ``SERVICES_PATCH``): after the active
tenant, the tenant service appends an audit entry of the switch (``tenant.audit_tenant_switch``,
ids only), the user service records the ``last_tenant`` preference (``user.record_last_tenant``,
ordered by ``switched_at`` too), then the caches are dropped. A failing preference or cache step
puts back what this run recorded (the preference, then the active tenant); the audit entry stays
(the switch it records happened). The run stays on the tenant queue, where it always ran: its
activities reach the user service by their contracts, so no run had to move queues and the
histories recorded before the patch replay on the same worker.

Not one run per switch: the route throttles them per session (``services/auth/switching/
bookkeeping.py``), so a run may carry several switches merged: the latest one (``to_tenant_id``,
``switched_at``) and every tenant left meanwhile (``from_tenant_id``, ``also_left_tenant_ids``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.tenant.contracts import TenantWorkflow
    from workflows.tenant.switching_contracts import (
        AUDIT_TENANT_SWITCH,
        RECORD_ACTIVE_TENANT,
        RECORD_LAST_TENANT,
        RESTORE_ACTIVE_TENANT,
        RESTORE_LAST_TENANT,
        REVOKE_CACHED_PERMISSIONS,
        AuditTenantSwitchInput,
        RecordActiveTenantInput,
        RecordActiveTenantOutput,
        RecordLastTenantInput,
        RestoreActiveTenantInput,
        RestoreLastTenantInput,
        RevokeCachedPermissionsInput,
    )


#: The run's memo names the switching user, so their session may follow it in the gateway (the
#: gateway's ``gateway/run_access.py`` reads the same key).
OWNER_MEMO = "adx_owner"
#: ``ApplicationError.type`` of a run whose cache revocation failed (after its retries).
CACHE_UNAVAILABLE = "PermissionCacheUnavailable"
#: ``ApplicationError.type`` of a run whose last-tenant preference could not be recorded.
PREFERENCE_UNAVAILABLE = "LastTenantPreferenceUnavailable"
#: ``ApplicationError.type`` of a run whose tenant audit entry could not be written.
AUDIT_UNAVAILABLE = "TenantSwitchAuditUnavailable"
#: The audit entry and the last-tenant preference (runs started before it skip both).
SERVICES_PATCH = "tenant-switching-services"


@dataclass
class TenantSwitchingInput:
    user_id: str
    session_id: str
    to_tenant_id: str
    #: The session's tenant before the switch (None: it had none).
    from_tenant_id: str | None
    #: ISO 8601 moment of the switch (the auth service's clock).
    switched_at: str
    #: Further tenants the session left, when the run carries several switches merged.
    also_left_tenant_ids: list[str] = field(default_factory=list)


@dataclass
class TenantSwitchingResult:
    tenant_id: str
    previous_tenant_id: str | None
    permissions_revoked: int
    #: The user service's ``last_tenant`` preference written (False: a newer switch's stands).
    preference_recorded: bool = False
    #: The tenant service's audit entry appended (False: before ``SERVICES_PATCH``).
    audited: bool = False


def tenant_switching_workflow_id(session_id: str, switch_id: str) -> str:
    """One run per switch (``switch_id``: the switch's own id, so a retried start joins)."""
    return f"tenant-switching-{session_id}-{switch_id}"


@workflow.defn(name=TenantWorkflow.TENANT_SWITCHING)
class TenantSwitchingWorkflow:
    def __init__(self) -> None:
        self._progress = ProgressTracker(total=2)

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.run
    async def run(self, input: TenantSwitchingInput) -> TenantSwitchingResult:
        key = workflow.info().workflow_id
        services = workflow.patched(SERVICES_PATCH)
        if services:
            self._progress = ProgressTracker(total=4)
        self._progress.advance(0, "recording the active tenant")
        recorded = await RECORD_ACTIVE_TENANT.execute(
            RecordActiveTenantInput(
                user_id=input.user_id,
                tenant_id=input.to_tenant_id,
                switched_at=input.switched_at,
                idempotency_key=f"{key}:record",
            )
        )
        candidates = [input.from_tenant_id, *input.also_left_tenant_ids]
        left = [t for t in dict.fromkeys(candidates) if t is not None and t != input.to_tenant_id]
        result = TenantSwitchingResult(
            tenant_id=input.to_tenant_id,
            previous_tenant_id=recorded.previous_tenant_id,
            permissions_revoked=0,
        )
        preference: RestoreLastTenantInput | None = None
        if services:
            self._progress.advance(1, "auditing the switch")
            try:
                await AUDIT_TENANT_SWITCH.execute(
                    AuditTenantSwitchInput(
                        user_id=input.user_id,
                        session_id=input.session_id,
                        to_tenant_id=input.to_tenant_id,
                        from_tenant_ids=left,
                        switched_at=input.switched_at,
                        idempotency_key=f"{key}:audit",
                    )
                )
            except ActivityError as error:
                await self._compensate(input, key, recorded, None)
                raise ApplicationError(
                    "the switch could not be audited", type=AUDIT_UNAVAILABLE, non_retryable=True
                ) from error
            result.audited = True
            self._progress.advance(2, "recording the last tenant preference")
            try:
                written = await RECORD_LAST_TENANT.execute(
                    RecordLastTenantInput(
                        user_id=input.user_id,
                        tenant_id=input.to_tenant_id,
                        switched_at=input.switched_at,
                        idempotency_key=f"{key}:preference",
                    )
                )
            except ActivityError as error:
                await self._compensate(input, key, recorded, None)
                raise ApplicationError(
                    "the last tenant preference could not be recorded",
                    type=PREFERENCE_UNAVAILABLE,
                    non_retryable=True,
                ) from error
            result.preference_recorded = written.recorded
            if written.recorded:
                preference = RestoreLastTenantInput(
                    user_id=input.user_id,
                    tenant_id=input.to_tenant_id,
                    switched_at=input.switched_at,
                    previous_tenant_id=written.previous_tenant_id,
                    previous_switched_at=written.previous_switched_at,
                )
        cache_step = 3 if services else 1
        if left:
            self._progress.advance(cache_step, "revoking the previous tenant's cached permissions")
            try:
                for tenant_id in left:
                    result.permissions_revoked += (
                        await REVOKE_CACHED_PERMISSIONS.execute(
                            RevokeCachedPermissionsInput(user_id=input.user_id, tenant_id=tenant_id)
                        )
                    ).revoked
            except ActivityError as error:
                await self._compensate(input, key, recorded, preference)
                raise ApplicationError(
                    "the previous tenant's permissions could not be revoked",
                    type=CACHE_UNAVAILABLE,
                    non_retryable=True,
                ) from error
        self._progress.advance(cache_step + 1, "switched", ProgressState.completed)
        return result

    async def _compensate(
        self,
        input: TenantSwitchingInput,
        key: str,
        recorded: RecordActiveTenantOutput,
        preference: RestoreLastTenantInput | None,
    ) -> None:
        """Put back what this run recorded, newest first (the audit entry stays)."""
        self._progress.set_state(
            ProgressState.compensating, "restoring the previously active tenant"
        )
        if preference is not None:
            await RESTORE_LAST_TENANT.execute(preference)
        await RESTORE_ACTIVE_TENANT.execute(
            RestoreActiveTenantInput(
                user_id=input.user_id,
                previous_tenant_id=recorded.previous_tenant_id,
                written_by=f"{key}:record",
            )
        )
        self._progress.set_state(ProgressState.failed, "the switch was not recorded")
