"""SCIM 2.0 (RFC 7643/7644) under ``/scim/v2``, authenticated by a tenant's SCIM token
(``credentials.py``; these routes are on ``OWN_CREDENTIAL_ROUTES``), answering
``application/scim+json``. Direct (no workflow): reads of this service's own rows, the token's
tenant only (repository scope and RLS). The writes are ``user_writes.py`` and
``group_writes.py``.

Reads: ``ServiceProviderConfig``, ``Schemas``, ``ResourceTypes``, ``Users`` (filter, sortBy and
sortOrder, startIndex and count, attributes and excludedAttributes) and ``Groups`` (one per
role). Any other path under ``/scim/v2`` is a SCIM 404.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from scim2_models import (
    Context,
    Group,
    ListResponse,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    ScimFilter,
    User,
)

from services.user.scim import resources
from services.user.scim.credentials import ScimCaller, ScimCallerDep
from services.user.scim.errors import (
    ScimError,
    ScimJSONResponse,
    ScimRoute,
    invalid_filter,
    invalid_value,
    not_found,
    not_implemented,
    responses,
    scim_json,
)
from storage.db import DbSession
from storage.users.scim_directory import SCIM_PAGE_MAX, ScimUsers, UnsupportedFilterError
from storage.users.scim_records import ScimGroupRecords

router = APIRouter(
    prefix=resources.BASE_PATH,
    tags=["scim"],
    route_class=ScimRoute,
    default_response_class=ScimJSONResponse,
    responses=responses(400, 401, 404),
)

#: A longer ``filter`` is refused before it is parsed.
FILTER_MAX_LENGTH: Final = 2000
DEFAULT_COUNT: Final = 100
QUERY = Context.RESOURCE_QUERY_RESPONSE


def base_url(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}{resources.BASE_PATH}"


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid_value(f"{name} must be an integer") from None


def _filter(request: Request) -> ScimFilter[Any] | None:
    text = request.query_params.get("filter")
    if text is None or not text.strip():
        return None
    if len(text) > FILTER_MAX_LENGTH:
        raise invalid_filter(f"a filter has at most {FILTER_MAX_LENGTH} characters")
    try:
        return ScimFilter(text)
    except SCIMException as error:
        raise invalid_filter(f"the filter does not parse: {error}") from None
    except (RecursionError, ValueError):
        raise invalid_filter("the filter does not parse") from None


def _parameters(request: Request, model: type[Any]) -> ResponseParameters[Any]:
    try:
        return ResponseParameters[model](  # type: ignore[valid-type]
            attributes=request.query_params.get("attributes") or None,
            excluded_attributes=request.query_params.get("excludedAttributes") or None,
        )
    except (ValidationError, SCIMException):
        raise invalid_value("attributes or excludedAttributes names no attribute") from None


def _sort(request: Request) -> tuple[str | None, bool]:
    sort_by = request.query_params.get("sortBy") or None
    order = (request.query_params.get("sortOrder") or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise invalid_value("sortOrder is ascending or descending")
    return sort_by, order == "descending"


def _list(
    model: type[Any], items: list[Any], total: int, start: int, request: Request
) -> JSONResponse:
    page = ListResponse[model](  # type: ignore[valid-type]
        total_results=total, start_index=start, items_per_page=len(items), resources=items
    )
    body = page.model_dump(
        scim_ctx=Context.SEARCH_RESPONSE, response_parameters=_parameters(request, model)
    )
    return scim_json(body)


def one_answer(resource: Any, request: Request) -> JSONResponse:
    params = _parameters(request, type(resource))
    return scim_json(resource.model_dump(scim_ctx=QUERY, response_parameters=params))


# --- discovery ---------------------------------------------------------------------------------


@router.get("/ServiceProviderConfig")
async def service_provider_config(request: Request, _: ScimCallerDep) -> JSONResponse:
    config = resources.service_provider_config(base_url(request))
    return scim_json(config.model_dump(scim_ctx=QUERY))


@router.get("/Schemas")
async def list_schemas(request: Request, _: ScimCallerDep) -> JSONResponse:
    found = resources.schemas(base_url(request))
    page = ListResponse[Schema](
        total_results=len(found), start_index=1, items_per_page=len(found), resources=found
    )
    return scim_json(page.model_dump(scim_ctx=Context.SEARCH_RESPONSE))


@router.get("/Schemas/{schema_id}")
async def get_schema(request: Request, schema_id: str, _: ScimCallerDep) -> JSONResponse:
    for schema in resources.schemas(base_url(request)):
        if schema.id == schema_id:
            return scim_json(schema.model_dump(scim_ctx=QUERY))
    raise not_found(f"no schema {schema_id[:200]}")


@router.get("/ResourceTypes")
async def list_resource_types(request: Request, _: ScimCallerDep) -> JSONResponse:
    found = resources.resource_types(base_url(request))
    page = ListResponse[ResourceType](
        total_results=len(found), start_index=1, items_per_page=len(found), resources=found
    )
    return scim_json(page.model_dump(scim_ctx=Context.SEARCH_RESPONSE))


@router.get("/ResourceTypes/{resource_type_id}")
async def get_resource_type(
    request: Request, resource_type_id: str, _: ScimCallerDep
) -> JSONResponse:
    for resource_type in resources.resource_types(base_url(request)):
        if resource_type.id == resource_type_id:
            return scim_json(resource_type.model_dump(scim_ctx=QUERY))
    raise not_found(f"no resource type {resource_type_id[:200]}")


async def discovery_is_read_only(_: ScimCallerDep) -> JSONResponse:
    """RFC 7644 section 4: the discovery endpoints take GET only (405, ``Allow: GET``)."""
    raise ScimError(405, "this endpoint takes GET only", allow="GET")


# One route per method and path: each operation has an id of its own in the OpenAPI document.
for _path in ("/ServiceProviderConfig", "/Schemas", "/ResourceTypes"):
    for _method in ("POST", "PUT", "PATCH", "DELETE"):
        router.add_api_route(
            _path,
            discovery_is_read_only,
            methods=[_method],
            responses=responses(405),
            operation_id=f"scim_{_method.lower()}_{_path.strip('/').lower()}_refused",
        )


# --- Users -------------------------------------------------------------------------------------


@router.get("/Users")
async def list_users(request: Request, caller: ScimCallerDep) -> JSONResponse:
    where = _filter(request)
    sort_by, descending = _sort(request)
    start = max(1, _int(request, "startIndex", 1))
    count = max(0, min(_int(request, "count", DEFAULT_COUNT), SCIM_PAGE_MAX))
    try:
        total, rows = await ScimUsers(caller.db, caller.tenant_id).page(
            where=where.ast if where is not None else None,
            sort_by=sort_by,
            descending=descending,
            start_index=start,
            count=count,
        )
    except UnsupportedFilterError as error:
        if sort_by is not None and str(error).startswith(sort_by):
            raise invalid_value(str(error)) from None
        raise invalid_filter(str(error)) from None
    base = base_url(request)
    users = [resources.user_resource(base, caller.tenant_id, *row) for row in rows]
    return _list(User, users, total, start, request)


def user_uuid(user_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(user_id)
    except ValueError:
        raise not_found(f"no user {user_id[:100]}") from None


@router.get("/Users/{user_id}")
async def get_user(request: Request, user_id: str, caller: ScimCallerDep) -> JSONResponse:
    row = await ScimUsers(caller.db, caller.tenant_id).one(user_uuid(user_id))
    if row is None:
        raise not_found(f"no user {user_id[:100]}")
    return one_answer(resources.user_resource(base_url(request), caller.tenant_id, *row), request)


# --- Groups ------------------------------------------------------------------------------------


async def tenant_groups(db: DbSession, tenant_id: uuid.UUID, base: str) -> list[Group]:
    """One Group per role: the built-in ones, every role a member holds, and every role SCIM
    knows of (``users.scim_groups``: created over SCIM, or given an ``externalId``)."""
    users = ScimUsers(db, tenant_id)
    records = {record.role: record for record in await ScimGroupRecords(db, tenant_id).all()}
    roles = list(resources.BUILT_IN)
    roles += [role for role in await users.roles() if role not in roles]
    roles += [role for role in records if role not in roles]
    members = await users.members_of(roles)
    return [
        resources.group_resource(
            base, tenant_id, role, [m for m in members if m.role == role], records.get(role)
        )
        for role in roles
    ]


async def _groups(request: Request, caller: ScimCaller) -> list[Group]:
    return await tenant_groups(caller.db, caller.tenant_id, base_url(request))


@router.get("/Groups")
async def list_groups(request: Request, caller: ScimCallerDep) -> JSONResponse:
    where = _filter(request)
    sort_by, descending = _sort(request)
    start = max(1, _int(request, "startIndex", 1))
    count = max(0, min(_int(request, "count", DEFAULT_COUNT), SCIM_PAGE_MAX))
    groups = await _groups(request, caller)
    if where is not None:
        try:
            bound = ScimFilter[Group](where.ast)
            groups = [group for group in groups if bound.match(group)]
        except (SCIMException, ValueError, TypeError) as error:
            raise invalid_filter(f"the filter does not apply to groups: {error}") from None
    if sort_by is not None:
        if sort_by.lower() not in ("displayname", "id"):
            raise invalid_value(f"{sort_by[:100]} is not a sortable attribute of groups")
        key = "display_name" if sort_by.lower() == "displayname" else "id"
        groups.sort(key=lambda g: str(getattr(g, key) or "").lower(), reverse=descending)
    page = groups[start - 1 : start - 1 + count]
    return _list(Group, page, len(groups), start, request)


@router.get("/Groups/{group_id}")
async def get_group(request: Request, group_id: str, caller: ScimCallerDep) -> JSONResponse:
    for group in await _groups(request, caller):
        if group.id == group_id:
            return one_answer(group, request)
    raise not_found(f"no group {group_id[:100]}")


# The writes: user_writes.py (Users) and group_writes.py (Groups).


async def search_not_supported(_: ScimCallerDep) -> JSONResponse:
    """RFC 7644 3.4.3's ``POST .../.search`` is not offered (the same queries are GETs):
    a SCIM 501, which is how RFC 7644 3.12 says so."""
    raise not_implemented("POST /.search is not supported: query with GET /Users or GET /Groups")


for _path in ("/.search", "/Users/.search", "/Groups/.search"):
    router.add_api_route(
        _path,
        search_not_supported,
        methods=["POST"],
        responses=responses(501),
        operation_id=f"scim_post_{_path.strip('/').replace('/.', '_').replace('.', '')}",
    )


@router.get("/{path:path}")
async def unknown(path: str, _: ScimCallerDep) -> JSONResponse:
    """Any other path: a SCIM 404 (another method on an unknown path is a plain 405)."""
    raise not_found(f"no SCIM endpoint /{path[:200]}")
