"""The tenant service's GDPR activities (queue ``<prefix>-tenant``): a person's memberships
(and the tenants they alone own), their export part, an ownership transfer and the erasure."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.common.compliance import (
    ErasePartInput,
    ErasePartOutput,
    ExportPartInput,
    ExportPartOutput,
)
from workflows.common.contracts import ActivityContract
from workflows.tenant.contracts import TENANT


@dataclass
class MembershipsInput:
    user_id: str


@dataclass
class MembershipsOutput:
    #: Every tenant the person is a member of.
    tenant_ids: list[str] = field(default_factory=list)
    #: Those where they are the only active owner (erasure must wait for a decision).
    sole_owned: list[str] = field(default_factory=list)


@dataclass
class TransferOwnershipInput:
    tenant_id: str
    from_user_id: str
    to_user_id: str
    #: The role ``to_user_id`` gets: ``owner``, or their previous role to undo a transfer.
    role: str = "owner"


@dataclass
class TransferOwnershipOutput:
    #: False when the new owner is not an active member of the tenant.
    transferred: bool
    previous_role: str = ""


COMPLIANCE_MEMBERSHIPS = ActivityContract(
    "tenant.compliance_memberships", TENANT, MembershipsInput, MembershipsOutput
)
EXPORT_TENANT_DATA = ActivityContract(
    "tenant.export_personal_data", TENANT, ExportPartInput, ExportPartOutput
)
TRANSFER_OWNERSHIP = ActivityContract(
    "tenant.compliance_transfer_ownership",
    TENANT,
    TransferOwnershipInput,
    TransferOwnershipOutput,
)
ERASE_TENANT_DATA = ActivityContract(
    "tenant.erase_personal_data", TENANT, ErasePartInput, ErasePartOutput
)
