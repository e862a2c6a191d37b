"""Contracts of the tenant domain: its service name, workflow names and business error types.

Each capability's activity contracts live beside it (``provisioning_contracts``,
``membership_contracts``, ``upgrade_contracts``, ``suspension_contracts``,
``switching_contracts``), as auth's MFA, SSO and claims contracts do; the roles, permissions and
plans every layer shares are in ``permissions`` and ``plans``."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

#: The service (task queue ``<prefix>-tenant``) that runs every tenant activity.
TENANT = "tenant"


class TenantWorkflow:
    """Workflow type names, as histories record them (never renamed); start a workflow by its
    run method, not by these."""

    TENANT_PROVISIONING: Final = "tenant_provisioning"
    TENANT_SWITCHING: Final = "tenant_switching"
    TENANT_UPGRADE: Final = "tenant_upgrade"
    TENANT_SUSPENSION: Final = "tenant_suspension"
    MEMBERSHIP_CHANGE: Final = "membership_change"
    ROLE_CHANGE: Final = "role_change"


class TenantError(StrEnum):
    """Stable ``ApplicationError.type`` values of the tenant domain's business failures; the
    HTTP layer and the gateway map them to responses, so a value never changes."""

    INVALID_INPUT = "InvalidInput"
    SLUG_TAKEN = "SlugTaken"
    TENANT_NOT_FOUND = "TenantNotFound"
    #: The tenant is suspended, being deleted or deleted: no change but resume/delete applies.
    TENANT_NOT_ACTIVE = "TenantNotActive"
    NOT_A_MEMBER = "NotAMember"
    MEMBER_NOT_FOUND = "MemberNotFound"
    ALREADY_A_MEMBER = "AlreadyAMember"
    #: The caller lacks a permission of the catalogue (``permissions.Permission``).
    PERMISSION_DENIED = "PermissionDenied"
    #: Only owners transfer ownership or delete the tenant.
    OWNER_REQUIRED = "OwnerRequired"
    #: The last owner cannot leave, be removed or be demoted.
    LAST_OWNER = "LastOwner"
    #: Granting a permission the granter does not hold.
    GRANT_EXCEEDS_OWN = "GrantExceedsOwn"
    UNKNOWN_ROLE = "UnknownRole"
    ROLE_EXISTS = "RoleExists"
    ROLE_IN_USE = "RoleInUse"
    SEAT_QUOTA_EXCEEDED = "SeatQuotaExceeded"
    #: Unknown, spent, revoked, expired or for another address: one answer.
    INVALID_INVITATION = "InvalidInvitation"
    DOMAIN_TAKEN = "DomainTaken"
    DOMAIN_NOT_VERIFIED = "DomainNotVerified"
    PAYMENT_FAILED = "PaymentFailed"
    PAYMENT_TIMED_OUT = "PaymentTimedOut"
    BILLING_UNAVAILABLE = "BillingUnavailable"
    PROVISIONING_FAILED = "ProvisioningFailed"
