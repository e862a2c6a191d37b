"""A tenant's SCIM tokens over HTTP, for its admins (``members.manage`` in the active tenant,
whose id is the path's). Direct (no workflow): this service's own rows.

- ``POST /tenants/{tenant_id}/scim-tokens``: a new token, shown in this answer only (201).
- ``GET /tenants/{tenant_id}/scim-tokens``: every token, revoked ones too, never the secret.
- ``DELETE /tenants/{tenant_id}/scim-tokens/{token_id}``: revoked at once (204, again 204).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.user.access import caller_id, check_active_tenant, require
from services.user.errors import user_error
from services.user.schemas import CreateScimTokenRequest, ScimTokenIssued, ScimTokenOut
from services.user.scim.credentials import digest, new_token
from storage.users.models import ScimToken
from storage.users.scim_tokens import SCIM_TOKENS_MAX, ScimTokenRepository
from workflows.tenant.permissions import Permission
from workflows.user.contracts import UserError

router = APIRouter(prefix="/tenants/{tenant_id}/scim-tokens", tags=["scim"])
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "Not the active tenant, or no members.manage permission"),
}


def token_out(row: ScimToken) -> ScimTokenOut:
    return ScimTokenOut(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        created_by=row.created_by,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _admin(principal: Any, tenant_id: uuid.UUID) -> uuid.UUID:
    check_active_tenant(principal, tenant_id)
    return require(principal, Permission.MEMBERS_MANAGE)


@router.post("", status_code=201, responses=REFUSED)
async def issue_scim_token(
    tenant_id: uuid.UUID, body: CreateScimTokenRequest, principal: PrincipalDep, db: TenantDb
) -> ScimTokenIssued:
    tenant = _admin(principal, tenant_id)
    tokens = ScimTokenRepository(db, tenant)
    if await tokens.active_count() >= SCIM_TOKENS_MAX:
        raise user_error(
            UserError.INVALID_INPUT, f"a tenant has at most {SCIM_TOKENS_MAX} active SCIM tokens"
        )
    token = new_token(tenant)
    row = await tokens.issue(
        name=body.name.strip() or body.name,
        token_hash=digest(token),
        created_by=caller_id(principal),
    )
    return ScimTokenIssued(**token_out(row).model_dump(), token=token)


@router.get("", responses=REFUSED)
async def list_scim_tokens(
    tenant_id: uuid.UUID, principal: PrincipalDep, db: TenantDb
) -> list[ScimTokenOut]:
    tenant = _admin(principal, tenant_id)
    return [token_out(row) for row in await ScimTokenRepository(db, tenant).all()]


@router.delete("/{token_id}", status_code=204, responses=REFUSED)
async def revoke_scim_token(
    tenant_id: uuid.UUID, token_id: uuid.UUID, principal: PrincipalDep, db: TenantDb
) -> Response:
    tenant = _admin(principal, tenant_id)
    if await ScimTokenRepository(db, tenant).revoke(token_id) is None:
        raise user_error(UserError.USER_NOT_FOUND, f"SCIM token {token_id} not found")
    return Response(status_code=204)
