"""``tenant.reconcile_read_members`` (queue ``<prefix>-tenant``): a batch of one tenant's
memberships after a user id, ordered by user id, with the permissions their roles give (what
auth's claims must hold), or the given members only (a repair's second look). Ids, roles and
statuses only: no personal data leaves. ``tenant.reconcile_read_quota``: the tenant's storage
quota (the plan's), the owner's side of the ``quotas`` copy. ``tenant.reconcile_member_profiles``:
the names, addresses and profile versions on the memberships compared with the user service's
profiles (a holder of the ``profile_names`` copy). ``tenant.reconcile_list_tenants``: the tenant
ids themselves, a page at a time, for the all-tenants scope: the platform's one cross-tenant read
here (policy ``platform_tenant_ids``), ids only, each call audited (the log line
``platform_tenants_listed`` and the tenant audit stream ``<prefix>:tenant:audit``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from temporalio import activity

from services.common.logging import get_logger
from services.common.reconciliation import checked, require_platform
from services.common.resources import Resources
from services.common.security_context import require_context
from services.tenant.provisioning.steps import permissions_of
from services.tenant.switching.activities import AUDIT_MAX_ENTRIES, audit_stream_key
from storage.db import transaction
from storage.tenants.reconciliation import (
    member_count,
    member_profiles,
    members_after,
    members_among,
    storage_quota,
    tenant_ids_after,
)
from workflows.reconciliation.contracts import (
    COMPARE_MEMBER_PROFILES,
    LIST_TENANTS,
    READ_MEMBERS,
    READ_QUOTA,
    CompareOutput,
    CompareProfilesInput,
    ListTenantsInput,
    ListTenantsOutput,
    MemberDigest,
    ReadMembersInput,
    ReadMembersOutput,
    ReadQuotaInput,
    ReadQuotaOutput,
)
from workflows.reconciliation.rules import (
    checked_batch_size,
    checked_profiles,
    drift_of,
    parse_bound,
    parse_id,
)

_log = get_logger(__name__)


class MemberTruthActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.database = resources.database

    @LIST_TENANTS.implement
    async def reconcile_list_tenants(self, input: ListTenantsInput) -> ListTenantsOutput:
        """A page of every tenant's id, for the platform alone; the call is audited before
        anything is read (who: the run and the context's origin, e.g. the nightly Schedule)."""
        require_platform()
        after, limit = checked(
            lambda: (parse_bound(input.after, "after"), checked_batch_size(input.limit))
        )
        info = activity.info()
        entry = {
            "action": "platform_tenants_listed",
            "origin": require_context().origin or "",
            "requested_by": input.requested_by[:64],
            "workflow_id": info.workflow_id or "",
            "run_id": info.workflow_run_id or "",
            "after": input.after,
            "limit": str(limit),
        }
        _log.info("platform_tenants_listed", **entry)
        await self.resources.redis.xadd(
            audit_stream_key(self.resources.redis_keys),
            dict(entry),  # type: ignore[arg-type]
            maxlen=AUDIT_MAX_ENTRIES,
            approximate=True,
        )
        async with transaction(self.database) as db:
            ids = await tenant_ids_after(db, after, limit)
        return ListTenantsOutput([str(t) for t in ids])

    @READ_MEMBERS.implement
    async def reconcile_read_members(self, input: ReadMembersInput) -> ReadMembersOutput:
        require_platform()
        tenant_id, after, limit = checked(
            lambda: (
                parse_id(input.tenant_id, "tenant id"),
                parse_bound(input.after, "after"),
                checked_batch_size(input.limit),
            )
        )
        among = checked(lambda: [parse_id(u, "user id") for u in input.user_ids[:limit]])
        async with transaction(self.database, tenant_id) as db:
            if input.user_ids:
                rows, total = await members_among(db, tenant_id, among), None
            else:
                rows = await members_after(db, tenant_id, after, limit)
                total = None if after else await member_count(db, tenant_id)
            by_role: dict[str, list[str]] = {}
            for row in rows:
                if row.role not in by_role:
                    by_role[row.role] = sorted(await permissions_of(db, tenant_id, row.role))
        return ReadMembersOutput(
            members=[MemberDigest(str(r.user_id), r.role, r.status, by_role[r.role]) for r in rows],
            total=total,
        )

    @READ_QUOTA.implement
    async def reconcile_read_quota(self, input: ReadQuotaInput) -> ReadQuotaOutput:
        """The plan's storage quota the tenant row holds (the file service keeps a copy)."""
        require_platform()
        tenant_id = checked(lambda: parse_id(input.tenant_id, "tenant id"))
        async with transaction(self.database, tenant_id) as db:
            return ReadQuotaOutput(quota_bytes=await storage_quota(db, tenant_id))

    @COMPARE_MEMBER_PROFILES.implement
    async def reconcile_member_profiles(self, input: CompareProfilesInput) -> CompareOutput:
        require_platform()
        tenant_id = checked(lambda: parse_id(input.tenant_id, "tenant id"))
        owner = checked(lambda: checked_profiles(input.profiles))
        async with transaction(self.database, tenant_id) as db:
            rows = await member_profiles(db, tenant_id, list(owner)) if owner else {}
        expected: dict[uuid.UUID, object] = {
            u: (p.display_name, p.email, p.version) for u, p in owner.items()
        }
        return drift_of(expected, {u: tuple(v) for u, v in rows.items()}, version_at=2)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.reconcile_list_tenants,
            self.reconcile_read_members,
            self.reconcile_read_quota,
            self.reconcile_member_profiles,
        ]
