"""The tenant service's GDPR activities (queue ``<prefix>-tenant``): the person's memberships
everywhere (as the acting user), their rows per tenant (under RLS), an ownership transfer for
an erasure waiting on it, and their erasure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.common.compliance import (
    as_json,
    parse_id,
    require_erasure_step,
    require_subject_step,
    write_part,
)
from services.common.resources import Resources
from storage.db import transaction
from storage.tenants import compliance
from workflows.common.compliance import (
    ErasePartInput,
    ErasePartOutput,
    ExportPartInput,
    ExportPartOutput,
)
from workflows.common.errors import business_error
from workflows.tenant.compliance_contracts import (
    COMPLIANCE_MEMBERSHIPS,
    ERASE_TENANT_DATA,
    EXPORT_TENANT_DATA,
    TRANSFER_OWNERSHIP,
    MembershipsInput,
    MembershipsOutput,
    TransferOwnershipInput,
    TransferOwnershipOutput,
)

SERVICE = "tenant"


class TenantComplianceActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.database = resources.database

    @COMPLIANCE_MEMBERSHIPS.implement
    async def compliance_memberships(self, input: MembershipsInput) -> MembershipsOutput:
        user_id = parse_id(input.user_id)
        require_subject_step(user_id)
        async with transaction(self.database, user_id=user_id) as db:
            memberships = await compliance.memberships_everywhere(db, user_id)
        sole: list[str] = []
        for tenant_id, role in memberships:
            if role != "owner":
                continue
            async with transaction(self.database, tenant_id) as db:
                owners = await compliance.active_owners(db)
            if owners == [user_id]:
                sole.append(str(tenant_id))
        return MembershipsOutput([str(t) for t, _ in memberships], sole)

    @EXPORT_TENANT_DATA.implement
    async def export_personal_data(self, input: ExportPartInput) -> ExportPartOutput:
        user_id = parse_id(input.user_id)
        require_subject_step(user_id)
        email = input.email
        document: dict[str, Any] = {"tenants": {}}
        counts: dict[str, int] = {}
        for raw in input.tenant_ids:
            tenant_id = parse_id(raw, "tenant id")
            async with transaction(self.database, tenant_id, user_id=user_id) as db:
                rows = await compliance.tenant_rows(db, user_id, email)
            document["tenants"][str(tenant_id)] = {
                k: [as_json(r) for r in v] for k, v in rows.items()
            }
            for name, found in rows.items():
                counts[name] = counts.get(name, 0) + len(found)
        key = await write_part(self.resources.blobs, input.export_id, SERVICE, document)
        return ExportPartOutput(SERVICE, key, counts)

    @TRANSFER_OWNERSHIP.implement
    async def compliance_transfer_ownership(
        self, input: TransferOwnershipInput
    ) -> TransferOwnershipOutput:
        require_erasure_step()
        tenant_id = parse_id(input.tenant_id, "tenant id")
        to_user = parse_id(input.to_user_id)
        if to_user == parse_id(input.from_user_id) or not 0 < len(input.role) <= 50:
            raise business_error("ComplianceInvalidInput", "not a transfer to another member")
        async with transaction(self.database, tenant_id) as db:
            previous = await compliance.set_role(db, to_user, input.role)
        return TransferOwnershipOutput(previous is not None, previous or "")

    @ERASE_TENANT_DATA.implement
    async def erase_personal_data(self, input: ErasePartInput) -> ErasePartOutput:
        require_erasure_step()
        user_id = parse_id(input.user_id)
        deleted: dict[str, int] = {}
        for raw in input.tenant_ids:
            tenant_id = parse_id(raw, "tenant id")
            async with transaction(self.database, tenant_id) as db:
                for name, count in (
                    await compliance.erase_in_tenant(db, user_id, input.email)
                ).items():
                    deleted[name] = deleted.get(name, 0) + count
        async with transaction(self.database, user_id=user_id) as db:
            deleted.update(await compliance.erase_own(db, user_id))
        return ErasePartOutput(SERVICE, deleted)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.compliance_memberships,
            self.export_personal_data,
            self.compliance_transfer_ownership,
            self.erase_personal_data,
        ]
