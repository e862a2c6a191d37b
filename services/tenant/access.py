"""Who may do what in a tenant: the caller's membership and effective permissions, read from the
tenant's own rows, checked by every tenant route.

**Which tenant a route acts on.** The tenant named in the path (``/tenants/{tenant_id}/...``)
must be the caller's token tenant (``tid``, chosen at login or by ``tenant_switching``). A token
for tenant A never reaches tenant B's data, even when its holder is also a member of B: they
switch tenants first. The mismatch is answered before any row is read, and the same for every
id (403, code ``PermissionDenied``), so it tells nothing about whether B exists. The request's
transaction (``TenantDb``) is scoped by RLS to ``tid`` as well, so a route that forgot this
check would still see no row of B.

**Membership.** A caller who is not a member of the tenant (no membership row) gets the 404 an
unknown tenant gets (``NotAMember`` maps to 404): a tenant's existence is never revealed. A
member's permissions come from their role: a built-in one (``BUILT_IN_ROLES``) or one of the
tenant's custom roles (``roles`` table). A missing permission is a 403 naming it (code
``PermissionDenied``). Writes also need the tenant and the membership to be active (code
``TenantNotActive``, 409): a suspended tenant is read-only.

Owners hold every permission and are the only ones who transfer ownership or delete the tenant
(``require_owner``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.common.tokens import Principal
from services.tenant.errors import from_rule, tenant_error
from storage.db import DbSession, tenant_scope
from storage.tenants.models import Membership, MembershipStatus, Tenant, TenantStatus
from storage.tenants.repository import MembershipRepository, RoleRepository, TenantRepository
from workflows.tenant import rules
from workflows.tenant.contracts import TenantError
from workflows.tenant.permissions import (
    BuiltInRole,
    Permission,
    built_in_permissions,
)


@dataclass(frozen=True)
class Access:
    """The caller in one tenant: their membership, role and effective permissions."""

    tenant: Tenant
    membership: Membership
    permissions: frozenset[Permission]

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.tenant.id

    @property
    def user_id(self) -> uuid.UUID:
        return self.membership.user_id

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def is_owner(self) -> bool:
        return self.membership.role == BuiltInRole.OWNER.value

    def has(self, permission: Permission) -> bool:
        return permission in self.permissions


def caller_id(principal: Principal) -> uuid.UUID | None:
    """The caller's user id (None for a subject that is not a user id)."""
    try:
        return uuid.UUID(principal.user_id)
    except ValueError:
        return None


async def role_permissions(db: DbSession, tenant_id: uuid.UUID, role: str) -> frozenset[Permission]:
    """A role's permissions in a tenant: built-in from the catalogue, custom from its row (a
    name stored there but no longer in the catalogue grants nothing; an unknown role nothing)."""
    built_in = built_in_permissions(role)
    if built_in is not None:
        return built_in
    row = await RoleRepository(db, tenant_id).by_name(role)
    if row is None:
        return frozenset()
    known = Permission._value2member_map_
    return frozenset(Permission(p) for p in row.permissions if p in known)


async def own_permissions(
    db: DbSession, principal: Principal, tenant_id: uuid.UUID
) -> tuple[Membership, frozenset[Permission]]:
    """The caller's own membership row in ``tenant_id`` (any status) and its permissions, with
    no token into the tenant: for resuming or deleting a suspended tenant, whose members hold
    none. The membership is visible through the own-memberships policy (``adx.user_id``); a
    custom role's row is not (it is the tenant's), so it is read under ``tenant_id``'s RLS
    scope for that one statement, only once the membership proved the caller is a member
    (``storage.db.tenant_scope``). 404 ``NotAMember`` otherwise, as for an unknown tenant."""
    user_id = caller_id(principal)
    membership = await MembershipRepository(db, tenant_id).of_user(user_id) if user_id else None
    if membership is None:
        raise tenant_error(TenantError.NOT_A_MEMBER, f"tenant {tenant_id} not found")
    if built_in_permissions(membership.role) is not None:
        return membership, await role_permissions(db, tenant_id, membership.role)
    async with tenant_scope(db, tenant_id):
        permissions = await role_permissions(db, tenant_id, membership.role)
    return membership, permissions


def check_token_tenant(principal: Principal, tenant_id: uuid.UUID) -> None:
    """The path's tenant is the token's (module docstring)."""
    if principal.tenant_id is None or principal.tenant_id != str(tenant_id):
        raise tenant_error(
            TenantError.PERMISSION_DENIED,
            "your token is for another tenant (or none); switch to this tenant first",
        )


async def member_access(
    db: DbSession, principal: Principal, tenant_id: uuid.UUID, *, write: bool = False
) -> Access:
    """The caller's access to ``tenant_id``: 403 for a token of another tenant, 404 for a
    non-member (as for an unknown tenant), 409 on a write to an inactive tenant."""
    check_token_tenant(principal, tenant_id)
    user_id = caller_id(principal)
    tenant = await TenantRepository(db).get(tenant_id)
    membership = (
        await MembershipRepository(db, tenant_id).of_user(user_id)
        if tenant is not None and user_id is not None
        else None
    )
    if tenant is None or membership is None or tenant.status == TenantStatus.DELETED.value:
        raise tenant_error(TenantError.NOT_A_MEMBER, f"tenant {tenant_id} not found")
    if write and (
        tenant.status != TenantStatus.ACTIVE.value
        or membership.status != MembershipStatus.ACTIVE.value
    ):
        raise tenant_error(
            TenantError.TENANT_NOT_ACTIVE, f"the tenant is {tenant.status}: no changes now"
        )
    permissions = await role_permissions(db, tenant_id, membership.role)
    return Access(tenant, membership, permissions)


async def require_permission(
    db: DbSession,
    principal: Principal,
    tenant_id: uuid.UUID,
    permission: Permission,
    *,
    write: bool = True,
) -> Access:
    """The caller's access if they hold ``permission`` in ``tenant_id`` (403 naming it if not;
    404 for a non-member). ``write``: the tenant must be active too (reads pass ``False``)."""
    access = await member_access(db, principal, tenant_id, write=write)
    if not access.has(permission):
        raise tenant_error(
            TenantError.PERMISSION_DENIED, f"this needs the {permission.value} permission"
        )
    return access


async def require_owner(
    db: DbSession, principal: Principal, tenant_id: uuid.UUID, what: str, *, write: bool = True
) -> Access:
    """The caller's access if they are an owner of ``tenant_id`` (403 ``OwnerRequired``)."""
    access = await member_access(db, principal, tenant_id, write=write)
    if not access.is_owner:
        raise tenant_error(TenantError.OWNER_REQUIRED, f"only an owner can {what}")
    return access


async def check_assignable(db: DbSession, access: Access, role: str) -> frozenset[Permission]:
    """``role`` may be handed out by the caller (an invitation, a domain's auto-join, a role
    change): it exists in the tenant (422 ``UnknownRole``), only an owner hands out ``owner``
    (403 ``OwnerRequired``) and it grants nothing the caller lacks (403 ``GrantExceedsOwn``).
    Its permissions."""
    built_in = built_in_permissions(role)
    if built_in is None and await RoleRepository(db, access.tenant_id).by_name(role) is None:
        raise tenant_error(TenantError.UNKNOWN_ROLE, f"no role named {role!r} in this tenant")
    permissions = await role_permissions(db, access.tenant_id, role)
    try:
        rules.check_role_assignment(access.role, role)
        rules.check_grant(access.permissions, permissions)
    except rules.RuleViolation as violation:
        raise from_rule(violation) from None
    return permissions
