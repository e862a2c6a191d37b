"""Contracts of the user service's copy of who belongs to which tenant (``users.directory``).

The tenant service owns memberships; the user service keeps its own copy, for the member
directory and for "is this user a member of my tenant" checks, fed only by these activities,
which the tenant workflows call on ``<prefix>-user`` where memberships change
(``tenant_provisioning``, ``membership_change``, ``tenant_suspension``). The user service never
reads the tenants schema nor calls the tenant service.

Every activity is idempotent: an upsert, a delete, a status set; repeating one changes nothing.
Their inputs carry ids, roles and statuses only, no personal data (the names and e-mail the
directory shows come from the user service's own profiles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from workflows.common.contracts import ActivityContract
from workflows.user.contracts import USER

#: ``workflow.patched`` id of the tenant flows' directory steps (runs before it copied nothing).
DIRECTORY_COPY_PATCH = "user-directory-copy"


class DirectoryStatus(StrEnum):
    """A directory entry's status: the membership's (``suspended`` while the tenant is)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass
class DirectoryEntry:
    user_id: str
    #: The member's role now; None removes the entry (no longer a member).
    role: str | None
    status: str = DirectoryStatus.ACTIVE.value
    #: ISO 8601; None: now, or the time already recorded.
    joined_at: str | None = None


@dataclass
class SyncDirectoryInput:
    tenant_id: str
    entries: list[DirectoryEntry] = field(default_factory=list)
    idempotency_key: str = ""


@dataclass
class SyncDirectoryOutput:
    upserted: int
    removed: int


#: Upsert (role given) or remove (role None) members of one tenant in the copy.
SYNC_DIRECTORY = ActivityContract(
    "user.sync_directory", USER, SyncDirectoryInput, SyncDirectoryOutput
)


@dataclass
class SetDirectoryStatusInput:
    tenant_id: str
    #: ``DirectoryStatus``: every entry of the tenant (suspension and resumption).
    status: str
    idempotency_key: str = ""


@dataclass
class SetDirectoryStatusOutput:
    changed: int


SET_DIRECTORY_STATUS = ActivityContract(
    "user.set_directory_status", USER, SetDirectoryStatusInput, SetDirectoryStatusOutput
)


@dataclass
class EraseTenantDirectoryInput:
    tenant_id: str
    idempotency_key: str = ""


@dataclass
class EraseTenantDirectoryOutput:
    removed: int


#: The tenant's erasure (``tenant_suspension``'s deletion): its entries and per-tenant
#: preferences go.
ERASE_TENANT_DIRECTORY = ActivityContract(
    "user.erase_tenant_directory", USER, EraseTenantDirectoryInput, EraseTenantDirectoryOutput
)
