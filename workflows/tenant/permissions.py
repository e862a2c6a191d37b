"""The one catalogue of tenant permissions and the built-in roles made of them (docs/tenancy.md).

Pure data and rules, sandbox-safe: the tenant service checks them on every route, its workflows
write them into token claims (``auth.sync_principal_claims``), and the gateway documents them.
A custom role is a tenant's own name for a subset of the catalogue."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Final


class Permission(StrEnum):
    """What a member may do in a tenant. Values are stable (they are stored and put in tokens)."""

    TENANT_MANAGE = "tenant.manage"  # rename, settings, suspend and resume
    MEMBERS_INVITE = "members.invite"
    MEMBERS_MANAGE = "members.manage"  # change roles, remove members
    ROLES_MANAGE = "roles.manage"  # custom roles
    BILLING_MANAGE = "billing.manage"  # plan changes
    DOMAINS_MANAGE = "domains.manage"  # verified domains
    FILES_READ = "files.read"
    FILES_WRITE = "files.write"
    FILES_SHARE = "files.share"
    WORKFLOWS_READ = "workflows.read"
    WORKFLOWS_MANAGE = "workflows.manage"
    USERS_READ = "users.read"


#: What each permission allows, for docs and the GraphQL schema's descriptions.
DESCRIPTIONS: Final[dict[Permission, str]] = {
    Permission.TENANT_MANAGE: "Rename the tenant, change its settings, suspend and resume it.",
    Permission.MEMBERS_INVITE: "Invite people, resend and revoke invitations.",
    Permission.MEMBERS_MANAGE: "Change members' roles and remove members.",
    Permission.ROLES_MANAGE: "Create, change and delete custom roles.",
    Permission.BILLING_MANAGE: "Change the plan and see billing.",
    Permission.DOMAINS_MANAGE: "Add, verify and remove the tenant's e-mail domains.",
    Permission.FILES_READ: "Read the tenant's files.",
    Permission.FILES_WRITE: "Upload, change and delete files.",
    Permission.FILES_SHARE: "Share files with members, roles or by link.",
    Permission.WORKFLOWS_READ: "See the tenant's workflow runs.",
    Permission.WORKFLOWS_MANAGE: "Cancel, retry and reset the tenant's workflow runs.",
    Permission.USERS_READ: "Read the tenant's member directory and profiles.",
}


class BuiltInRole(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


ALL_PERMISSIONS: Final = frozenset(Permission)

#: Owners hold everything, and only they transfer ownership or delete the tenant (that is a
#: rule of the role, not a permission anyone can be granted).
BUILT_IN_ROLES: Final[dict[BuiltInRole, frozenset[Permission]]] = {
    BuiltInRole.OWNER: ALL_PERMISSIONS,
    BuiltInRole.ADMIN: ALL_PERMISSIONS - {Permission.BILLING_MANAGE},
    BuiltInRole.MEMBER: frozenset(
        {
            Permission.FILES_READ,
            Permission.FILES_WRITE,
            Permission.FILES_SHARE,
            Permission.WORKFLOWS_READ,
            Permission.USERS_READ,
        }
    ),
    BuiltInRole.VIEWER: frozenset(
        {Permission.FILES_READ, Permission.WORKFLOWS_READ, Permission.USERS_READ}
    ),
}

#: A custom role's name: lower-case words, not one of the built-in names.
ROLE_NAME = re.compile(r"[a-z][a-z0-9-]{1,38}[a-z0-9]")
MAX_CUSTOM_ROLES: Final = 50


class UnknownPermissionError(ValueError):
    pass


def parse_permissions(values: Iterable[str]) -> frozenset[Permission]:
    """The catalogue entries named by ``values``; an unknown name is an error naming it."""
    parsed: set[Permission] = set()
    for value in values:
        try:
            parsed.add(Permission(value))
        except ValueError:
            shown = value if len(value) <= 64 else value[:64] + "..."
            raise UnknownPermissionError(f"unknown permission: {shown!r}") from None
    return frozenset(parsed)


def is_built_in(role: str) -> bool:
    return role in BuiltInRole._value2member_map_


def valid_custom_role_name(name: str) -> bool:
    return len(name) <= 40 and ROLE_NAME.fullmatch(name) is not None and not is_built_in(name)


def built_in_permissions(role: str) -> frozenset[Permission] | None:
    """A built-in role's permissions, or None for a name that is not built in."""
    return BUILT_IN_ROLES.get(BuiltInRole(role)) if is_built_in(role) else None


def can_grant(granter: frozenset[Permission], granted: Iterable[Permission]) -> bool:
    """Nobody grants a permission they do not hold."""
    return set(granted) <= granter
