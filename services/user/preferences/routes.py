"""Preferences over HTTP. Direct (no workflow): the caller's own rows only.

- ``GET /users/preferences/schema``: the published JSON Schema (``schema_v1.json``), both
  scopes; its ``x-version`` is the ``schema_version`` the answers carry.
- ``GET`` / ``PUT /users/me/preferences``: the caller's own, for every tenant.
- ``GET`` / ``PUT /users/me/tenants/{tenant_id}/preferences``: within the caller's active tenant
  (the token's; another tenant's id is a 403).

``PUT`` replaces the stored document, validated against its scope's schema: unknown keys and
wrong types are refused with a 422 naming each key (``errors``). Answers carry the stored values
and the effective ones (the defaults filled in).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Body

from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.user.access import caller_id, check_active_tenant
from services.user.errors import user_error
from services.user.preferences import document
from services.user.preferences.document import CURRENT_VERSION, PreferencesInvalid, Scope
from services.user.schemas import PreferencesOut
from storage.db import DbSession
from storage.users.preferences import PreferencesRepository
from workflows.user.contracts import UserError

router = APIRouter(prefix="/users", tags=["preferences"])

Responses = dict[int | str, dict[str, Any]]
INVALID: Responses = {
    422: problem_response(422, "The document breaks the schema (errors: one per key)")
}
OTHER_TENANT: Responses = {403: problem_response(403, "Not the token's tenant")}
PreferencesBody = Body(
    description="The whole document (it replaces what was stored); see "
    "GET /users/preferences/schema",
)


@router.get("/preferences/schema")
async def preferences_schema() -> dict[str, Any]:
    """The published schema (JSON Schema 2020-12): ``$defs.user`` and ``$defs.tenant``."""
    return document.schema_document()


async def _read(db: DbSession, user_id: uuid.UUID, tenant_id: uuid.UUID | None) -> PreferencesOut:
    scope = Scope.USER if tenant_id is None else Scope.TENANT
    row = await PreferencesRepository(db).of(user_id, tenant_id)
    stored = document.upgraded(row.schema_version, row.values) if row is not None else {}
    return PreferencesOut(
        scope=scope.value,
        tenant_id=tenant_id,
        schema_version=CURRENT_VERSION,
        values=document.merged(scope, stored),
        stored=stored,
        updated_at=row.updated_at if row is not None else None,
    )


async def _write(
    db: DbSession, user_id: uuid.UUID, tenant_id: uuid.UUID | None, values: Any
) -> PreferencesOut:
    scope = Scope.USER if tenant_id is None else Scope.TENANT
    try:
        checked = document.validate(scope, values)
    except PreferencesInvalid as invalid:
        raise user_error(
            UserError.INVALID_PREFERENCES, str(invalid), errors=invalid.issues()
        ) from None
    await PreferencesRepository(db).put(
        user_id, tenant_id, schema_version=CURRENT_VERSION, values=checked
    )
    return await _read(db, user_id, tenant_id)


@router.get("/me/preferences")
async def get_my_preferences(principal: PrincipalDep, db: TenantDb) -> PreferencesOut:
    return await _read(db, caller_id(principal), None)


def _body(scope: Scope) -> dict[str, Any]:
    schema = document.openapi_schema(scope)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.put("/me/preferences", responses=INVALID, openapi_extra=_body(Scope.USER))
async def put_my_preferences(
    principal: PrincipalDep, db: TenantDb, values: dict[str, Any] = PreferencesBody
) -> PreferencesOut:
    return await _write(db, caller_id(principal), None, values)


@router.get("/me/tenants/{tenant_id}/preferences", responses=OTHER_TENANT)
async def get_my_tenant_preferences(
    tenant_id: uuid.UUID, principal: PrincipalDep, db: TenantDb
) -> PreferencesOut:
    check_active_tenant(principal, tenant_id)
    return await _read(db, caller_id(principal), tenant_id)


@router.put(
    "/me/tenants/{tenant_id}/preferences",
    responses={**INVALID, **OTHER_TENANT},
    openapi_extra=_body(Scope.TENANT),
)
async def put_my_tenant_preferences(
    tenant_id: uuid.UUID,
    principal: PrincipalDep,
    db: TenantDb,
    values: dict[str, Any] = PreferencesBody,
) -> PreferencesOut:
    check_active_tenant(principal, tenant_id)
    return await _write(db, caller_id(principal), tenant_id, values)
