"""The user service's GDPR activities (queue ``<prefix>-user``): the person's own rows (as the
acting user) and their rows in each of their tenants (one transaction per tenant, under RLS)."""

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
from storage.users import compliance
from workflows.common.compliance import (
    ErasePartInput,
    ErasePartOutput,
    ExportPartInput,
    ExportPartOutput,
)
from workflows.user.compliance_contracts import ERASE_USER_DATA, EXPORT_USER_DATA

SERVICE = "user"


class UserComplianceActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.database = resources.database

    @EXPORT_USER_DATA.implement
    async def export_personal_data(self, input: ExportPartInput) -> ExportPartOutput:
        user_id = parse_id(input.user_id)
        require_subject_step(user_id)
        tenants = [parse_id(t, "tenant id") for t in input.tenant_ids]
        async with transaction(self.database, user_id=user_id) as db:
            own = await compliance.own_rows(db, user_id)
        document: dict[str, Any] = {k: [as_json(r) for r in v] for k, v in own.items()}
        document["tenants"] = {}
        for tenant_id in tenants:
            async with transaction(self.database, tenant_id, user_id=user_id) as db:
                rows = await compliance.tenant_rows(db, user_id)
            document["tenants"][str(tenant_id)] = {
                k: [as_json(r) for r in v] for k, v in rows.items()
            }
        key = await write_part(self.resources.blobs, input.export_id, SERVICE, document)
        counts = {k: len(v) for k, v in own.items()}
        for section in compliance.TENANT_QUERIES:
            counts[section] = sum(len(t[section]) for t in document["tenants"].values())
        return ExportPartOutput(SERVICE, key, counts)

    @ERASE_USER_DATA.implement
    async def erase_personal_data(self, input: ErasePartInput) -> ErasePartOutput:
        require_erasure_step()
        user_id = parse_id(input.user_id)
        deleted: dict[str, int] = {}
        for raw in input.tenant_ids:
            tenant_id = parse_id(raw, "tenant id")
            async with transaction(self.database, tenant_id, user_id=user_id) as db:
                _add(deleted, await compliance.erase_in_tenant(db, user_id, input.email))
        async with transaction(self.database, user_id=user_id) as db:
            _add(deleted, await compliance.erase_own(db, user_id))
        return ErasePartOutput(SERVICE, deleted)

    def all(self) -> list[Callable[..., Any]]:
        return [self.export_personal_data, self.erase_personal_data]


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for name, count in counts.items():
        total[name] = total.get(name, 0) + count
