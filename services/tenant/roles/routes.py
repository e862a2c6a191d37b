"""Roles over HTTP. Direct (no workflow): a custom role is one row of this service's, written in
one transaction; members' tokens pick a changed role up at their next sign-in or switch.

Rules: permissions are names of the catalogue (an unknown one is refused by name); nobody grants
a permission they do not hold (``rules.check_grant``); built-in roles cannot be changed; a role
a member holds, a pending invitation offers or a domain's auto-join names cannot be deleted;
at most ``MAX_CUSTOM_ROLES`` per tenant."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from services.common.errors import NotFoundError
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.tenant.access import Access, member_access, require_permission
from services.tenant.errors import from_rule, tenant_error
from services.tenant.schemas import CreateRoleRequest, RoleName, RoleOut, UpdateRoleRequest
from storage.db import DbSession
from storage.tenants.models import Role
from storage.tenants.repository import RoleRepository
from workflows.tenant import rules
from workflows.tenant.contracts import TenantError
from workflows.tenant.permissions import (
    BUILT_IN_ROLES,
    DESCRIPTIONS,
    MAX_CUSTOM_ROLES,
    Permission,
    UnknownPermissionError,
    is_built_in,
    parse_permissions,
    valid_custom_role_name,
)

Responses = dict[int | str, dict[str, Any]]
router = APIRouter(prefix="/tenants/{tenant_id}/roles", tags=["roles"])

REFUSED: Responses = {
    403: problem_response(403, "A token for another tenant, or a missing permission"),
    404: problem_response(404, "No such tenant or role, or the caller is not a member"),
}
WRITE_REFUSED: Responses = {
    **REFUSED,
    409: problem_response(409, "The name is taken, the role is in use, or the tenant inactive"),
}
RolePath = Annotated[RoleName, Path()]

BUILT_IN_DESCRIPTIONS = {
    "owner": "Everything, including transferring ownership and deleting the tenant.",
    "admin": "Everything but billing, ownership and deletion.",
    "member": "Work with files and workflows, read the directory.",
    "viewer": "Read files, workflow runs and the directory.",
}


def _sorted(permissions: frozenset[Permission]) -> list[Permission]:
    return sorted(permissions, key=lambda p: list(DESCRIPTIONS).index(p))


def role_out(row: Role) -> RoleOut:
    known = Permission._value2member_map_
    return RoleOut(
        name=row.name,
        description=row.description,
        permissions=_sorted(frozenset(Permission(p) for p in row.permissions if p in known)),
        built_in=False,
    )


def _permissions(access: Access, values: list[str]) -> frozenset[Permission]:
    try:
        permissions = parse_permissions(values)
    except UnknownPermissionError as error:
        raise tenant_error(TenantError.INVALID_INPUT, str(error)) from None
    try:
        rules.check_grant(access.permissions, permissions)
    except rules.RuleViolation as violation:
        raise from_rule(violation) from None
    return permissions


async def _custom(db: DbSession, tenant_id: uuid.UUID, name: str) -> Role:
    if is_built_in(name):
        raise tenant_error(TenantError.INVALID_INPUT, f"{name!r} is a built-in role")
    row = await RoleRepository(db, tenant_id).by_name(name)
    if row is None:
        raise NotFoundError(f"role {name!r} not found")
    return row


@router.get("", responses=REFUSED)
async def list_roles(tenant_id: uuid.UUID, principal: PrincipalDep, db: TenantDb) -> list[RoleOut]:
    """The built-in roles, then the tenant's custom roles by name (any member)."""
    await member_access(db, principal, tenant_id)
    built_in = [
        RoleOut(
            name=role.value,
            description=BUILT_IN_DESCRIPTIONS.get(role.value, ""),
            permissions=_sorted(permissions),
            built_in=True,
        )
        for role, permissions in BUILT_IN_ROLES.items()
    ]
    custom = await RoleRepository(db, tenant_id).all()
    return built_in + [role_out(row) for row in custom]


@router.post("", status_code=201, responses=WRITE_REFUSED)
async def create_role(
    tenant_id: uuid.UUID, body: CreateRoleRequest, principal: PrincipalDep, db: TenantDb
) -> RoleOut:
    """A custom role (``roles.manage``) granting at most what the caller holds."""
    access = await require_permission(db, principal, tenant_id, Permission.ROLES_MANAGE)
    if not valid_custom_role_name(body.name):
        raise tenant_error(
            TenantError.INVALID_INPUT,
            f"{body.name!r} cannot name a custom role (built-in names are taken)",
        )
    permissions = _permissions(access, body.permissions)
    repository = RoleRepository(db, tenant_id)
    if await repository.count() >= MAX_CUSTOM_ROLES:
        raise tenant_error(
            TenantError.INVALID_INPUT, f"a tenant has at most {MAX_CUSTOM_ROLES} custom roles"
        )
    row = await repository.create(body.name, body.description, [p.value for p in permissions])
    if row is None:
        raise tenant_error(TenantError.ROLE_EXISTS, f"a role named {body.name!r} exists")
    return role_out(row)


@router.patch("/{name}", responses=WRITE_REFUSED)
async def update_role(
    tenant_id: uuid.UUID,
    name: RolePath,
    body: UpdateRoleRequest,
    principal: PrincipalDep,
    db: TenantDb,
) -> RoleOut:
    """Change a custom role's description or permissions (``roles.manage``)."""
    access = await require_permission(db, principal, tenant_id, Permission.ROLES_MANAGE)
    row = await _custom(db, tenant_id, name)
    permissions = None if body.permissions is None else _permissions(access, body.permissions)
    changed = await RoleRepository(db, tenant_id).change(
        row,
        description=body.description,
        permissions=None if permissions is None else [p.value for p in permissions],
    )
    return role_out(changed)


@router.delete("/{name}", status_code=204, responses=WRITE_REFUSED)
async def delete_role(
    tenant_id: uuid.UUID, name: RolePath, principal: PrincipalDep, db: TenantDb
) -> Response:
    """Delete a custom role nobody holds (``roles.manage``)."""
    await require_permission(db, principal, tenant_id, Permission.ROLES_MANAGE)
    row = await _custom(db, tenant_id, name)
    repository = RoleRepository(db, tenant_id)
    if await repository.in_use(row.name):
        raise tenant_error(
            TenantError.ROLE_IN_USE,
            f"role {name!r} is held by members, offered by invitations or used for auto-join",
        )
    await repository.remove(row)
    return Response(status_code=204)
