"""Contracts of ``data_migration`` (docs/workflows.md, "Data reconciliation").

For each copy, the OWNER service reads a batch of its truth (keyset by user id within one tenant,
ids, roles and statuses only: no personal data) and the COPY-HOLDING service compares its copy
over the same key range. The compare answers ids only; a repair then goes through the write
activity that keeps the copy today (``auth.sync_principal_claims``, ``user.sync_directory``), so
reconciliation writes exactly what the flows write. Only the platform itself (``system``
context) runs these reads: they see every member of a tenant."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from workflows.auth.contracts import AUTH
from workflows.common.contracts import ActivityContract
from workflows.file.tenant_storage_contracts import FILE
from workflows.tenant.contracts import TENANT
from workflows.user.contracts import USER

#: The workflow service's task-queue suffix.
WORKFLOW = "workflow"
DATA_MIGRATION = "data_migration"
MAX_BATCH = 1000
#: Drifting ids a report keeps per copy and kind.
SAMPLE_SIZE = 20


class ReconciliationError(StrEnum):
    INVALID_INPUT = "RECONCILIATION_INVALID_INPUT"


class Mode(StrEnum):
    DRY_RUN = "dry_run"
    REPAIR = "repair"


class Copy(StrEnum):
    """The copies checked, by the name inputs and reports use (stable: histories carry them)."""

    #: auth.principal_claims (roles, permissions per member) <- tenants.memberships
    CLAIMS = "claims"
    #: users.directory (role, status per member) <- tenants.memberships
    DIRECTORY = "directory"
    #: files.storage_policies.quota_bytes <- tenants.tenants.storage_quota_bytes (the plan's);
    #: one row per tenant (patch ``data-migration-quotas``)
    QUOTAS = "quotas"
    #: the profile's display name (and e-mail) on auth's credentials, on the memberships and in
    #: the directory <- users.profiles (patch ``data-migration-profile-names``)
    PROFILE_NAMES = "profile_names"


#: Copies that runs started before ``QUOTAS_PATCH`` knew (their default "all").
LEGACY_COPIES = (Copy.CLAIMS.value, Copy.DIRECTORY.value)
#: ``data_migration`` checks the storage quota copy too.
QUOTAS_PATCH = "data-migration-quotas"
#: ``data_migration`` checks the profile name copies too.
PROFILE_NAMES_PATCH = "data-migration-profile-names"


@dataclass
class MemberDigest:
    """A membership as the owner holds it (no personal data)."""

    user_id: str
    role: str
    status: str
    permissions: list[str] = field(default_factory=list)


@dataclass
class ReadMembersInput:
    tenant_id: str
    #: Exclusive lower bound (a user id); "" from the start.
    after: str = ""
    limit: int = 100
    #: Only these members (a repair's second look, just before it writes), ``after`` ignored.
    user_ids: list[str] = field(default_factory=list)


@dataclass
class ReadMembersOutput:
    members: list[MemberDigest]
    #: Every membership of the tenant (for progress), counted with the first batch only.
    total: int | None = None


@dataclass
class CompareInput:
    tenant_id: str
    #: The owner's batch and the key range it covers: ``(after, upto]``; ``upto`` "" = to the end.
    members: list[MemberDigest]
    after: str = ""
    upto: str = ""


@dataclass
class CompareOutput:
    checked: int
    #: Owner rows the copy lacks, copy rows the owner lacks, rows that differ (user ids).
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    #: Of ``stale``, the copies holding the owner's very version (a profile name written by
    #: hand, not a lost delivery): a version-guarded write cannot fix them, a re-sync can.
    same_version: list[str] = field(default_factory=list)


READ_MEMBERS = ActivityContract(
    "tenant.reconcile_read_members", TENANT, ReadMembersInput, ReadMembersOutput
)
COMPARE_CLAIMS = ActivityContract("auth.reconcile_claims", AUTH, CompareInput, CompareOutput)
COMPARE_DIRECTORY = ActivityContract("user.reconcile_directory", USER, CompareInput, CompareOutput)


# --- the storage quota copy (one row per tenant) --------------------------------------------


@dataclass
class ReadQuotaInput:
    tenant_id: str


@dataclass
class ReadQuotaOutput:
    #: ``tenants.tenants.storage_quota_bytes`` (None: no such tenant).
    quota_bytes: int | None


@dataclass
class CompareQuotaInput:
    tenant_id: str
    #: The owner's quota (None: the tenant is gone, so the copy is extra if it exists).
    quota_bytes: int | None


READ_QUOTA = ActivityContract(
    "tenant.reconcile_read_quota", TENANT, ReadQuotaInput, ReadQuotaOutput
)
#: Answers the tenant id as ``missing`` (no policy row), ``extra`` or ``stale`` (another quota).
COMPARE_QUOTA = ActivityContract("file.reconcile_quota", FILE, CompareQuotaInput, CompareOutput)


# --- the profile name copies (users.profiles -> auth, tenant, directory) --------------------


@dataclass
class ProfileDigest:
    """A profile as the owner holds it (personal data: the payload codec encrypts it; reports
    keep ids only)."""

    user_id: str
    display_name: str
    email: str
    #: ``storage.users.repository.profile_version``: what the version-guarded copies hold.
    version: int


@dataclass
class ReadProfilesInput:
    tenant_id: str
    #: Members of the tenant (the owner of memberships answered them); at most ``MAX_BATCH``.
    user_ids: list[str] = field(default_factory=list)


@dataclass
class ReadProfilesOutput:
    #: The members that have a profile (one without a profile has nothing to copy).
    profiles: list[ProfileDigest]


@dataclass
class CompareProfilesInput:
    tenant_id: str
    profiles: list[ProfileDigest]


READ_PROFILES = ActivityContract(
    "user.reconcile_read_profiles", USER, ReadProfilesInput, ReadProfilesOutput
)
#: Each holder answers user ids: ``missing`` (no row to hold the name), ``stale`` (another name,
#: address or version, a newer one included: the repair's version guard then leaves it).
COMPARE_PROFILE_CLAIMS = ActivityContract(
    "auth.reconcile_profile_claims", AUTH, CompareProfilesInput, CompareOutput
)
COMPARE_MEMBER_PROFILES = ActivityContract(
    "tenant.reconcile_member_profiles", TENANT, CompareProfilesInput, CompareOutput
)
COMPARE_DIRECTORY_PROFILES = ActivityContract(
    "user.reconcile_directory_profiles", USER, CompareProfilesInput, CompareOutput
)


@dataclass
class ResyncProfilesInput:
    tenant_id: str
    #: Members whose copies drifted at the profile's own version (at most ``MAX_BATCH``).
    user_ids: list[str] = field(default_factory=list)


#: A repair's forced re-sync: the profiles' versions bumped (their ``updated_at`` moved on, the
#: data untouched), answered as they now are, so the version-guarded writes of
#: ``user_profile_sync`` take them again (patch ``data-migration-profile-resync``). A retry bumps
#: once more, which is harmless: the copies take whatever version is answered.
RESYNC_PROFILES = ActivityContract(
    "user.reconcile_resync_profiles", USER, ResyncProfilesInput, ReadProfilesOutput
)
#: ``data_migration``'s repair re-syncs profile name copies that drifted at the same version.
PROFILE_RESYNC_PATCH = "data-migration-profile-resync"


# --- the all-tenants scope: the tenant ids, from their owner ----------------------------------


@dataclass
class ListTenantsInput:
    #: Exclusive lower bound (a tenant id); "" from the start.
    after: str = ""
    limit: int = 100
    #: Who asked (``schedule`` or an operator's id): for the tenant service's audit entry.
    requested_by: str = ""


@dataclass
class ListTenantsOutput:
    #: Tenant ids after ``after`` in id order (active, suspended or being deleted).
    tenant_ids: list[str] = field(default_factory=list)


#: The platform's one cross-tenant read of the tenant service (ids only, audited there).
LIST_TENANTS = ActivityContract(
    "tenant.reconcile_list_tenants", TENANT, ListTenantsInput, ListTenantsOutput
)
#: ``data_migration`` may run over every tenant (a child run per tenant).
ALL_TENANTS_PATCH = "data-migration-all-tenants"
