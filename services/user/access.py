"""Who may read and change whose user data: the caller's token decides (its ``tid`` and its
``perms``, synced by the tenant flows into auth's claims), the directory copy says who belongs to
the caller's tenant.

- Everyone reads and changes their own profile and preferences.
- In the caller's active tenant (the token's ``tid``, and no other): ``users.read`` reads the
  directory and the profiles of its members; ``members.manage`` changes those profiles too,
  but only an owner changes an owner's.
- A user who is not a member of the active tenant is answered like an unknown one (404), so ids
  of other tenants' users cannot be probed; a member the caller may not change is a 403.
"""

from __future__ import annotations

import uuid

from services.common.tokens import Principal
from services.user.errors import user_error
from storage.db import DbSession
from storage.users.directory import DirectoryRepository
from storage.users.models import DirectoryEntry
from workflows.tenant.permissions import BuiltInRole, Permission
from workflows.user.contracts import UserError


def caller_id(principal: Principal) -> uuid.UUID:
    try:
        return uuid.UUID(principal.user_id)
    except ValueError:
        raise user_error(UserError.PERMISSION_DENIED, "the caller is not a user") from None


def active_tenant(principal: Principal) -> uuid.UUID:
    """The token's tenant (403 for a token of no tenant)."""
    if principal.tenant_id is None:
        raise user_error(UserError.PERMISSION_DENIED, "this needs a token for a tenant")
    return uuid.UUID(principal.tenant_id)


def check_active_tenant(principal: Principal, tenant_id: uuid.UUID) -> None:
    """The path's tenant is the token's (403 the same for every other id)."""
    if principal.tenant_id is None or principal.tenant_id != str(tenant_id):
        raise user_error(
            UserError.PERMISSION_DENIED,
            "your token is for another tenant (or none); switch to this tenant first",
        )


def has(principal: Principal, permission: Permission) -> bool:
    return principal.tenant_id is not None and permission.value in principal.permissions


def require(principal: Principal, permission: Permission) -> uuid.UUID:
    """The active tenant, if the caller holds ``permission`` there (403 naming it if not)."""
    tenant_id = active_tenant(principal)
    if permission.value not in principal.permissions:
        raise user_error(
            UserError.PERMISSION_DENIED, f"this needs the {permission.value} permission"
        )
    return tenant_id


async def member_entry(
    db: DbSession, principal: Principal, user_id: uuid.UUID
) -> DirectoryEntry | None:
    """``user_id``'s entry in the caller's active tenant (None: no tenant, or not a member)."""
    if principal.tenant_id is None:
        return None
    return await DirectoryRepository(db, uuid.UUID(principal.tenant_id)).entry(user_id)


def check_may_change(principal: Principal, target: DirectoryEntry) -> None:
    """``members.manage`` in the tenant, and an owner's profile only by an owner."""
    if not has(principal, Permission.MEMBERS_MANAGE):
        raise user_error(
            UserError.PERMISSION_DENIED,
            f"this needs the {Permission.MEMBERS_MANAGE.value} permission",
        )
    if target.role == BuiltInRole.OWNER.value and BuiltInRole.OWNER.value not in principal.roles:
        raise user_error(UserError.PERMISSION_DENIED, "only an owner changes an owner's profile")
