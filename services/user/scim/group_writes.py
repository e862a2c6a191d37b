"""SCIM writes of ``Groups``, which are the tenant's roles: a member added to a Group gets that
role, one removed from it goes back to ``member`` (``membership_change`` CHANGE_ROLE for each,
waited for in turn). ``PUT`` states the whole member list, ``PATCH`` changes it (``members``
add/remove/replace, ``members[value eq "<id>"]``); ``externalId`` is SCIM's record of the
Group (``users.scim_groups``, unique in the tenant).

``POST /Groups`` creates a custom role named by ``displayName`` (the tenant's role-name rule),
with the permissions of ``member``, through the tenant's ``role_change`` CREATE, then gives its
members that role. ``DELETE /Groups/{id}`` deletes a custom role: its members go back to
``member`` first (as a PATCH removing them would), then ``role_change`` DELETE; a built-in
role is a 400 ``mutability``. A Group's name is its role's: renaming is a 400 ``mutability``.

Everything is checked before any change starts: the name, the ``externalId``, every member
named being a member of the token's tenant. Each change is then its own run (a refusal, e.g.
of the last owner's demotion, answers the error, and the changes before it stay made)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from scim2_models import Context, Group

from services.common.app import ResourcesDep
from services.user.scim import provisioning, resources
from services.user.scim.bodies import (
    MAX_GROUP_MEMBERS,
    apply_patch,
    json_body,
    patch_op,
    resource,
)
from services.user.scim.credentials import ScimWriter, ScimWriterDep
from services.user.scim.errors import (
    ScimJSONResponse,
    ScimRoute,
    invalid_value,
    mutability,
    not_found,
    responses,
    uniqueness,
)
from services.user.scim.extras import EXTERNAL_ID_MAX
from services.user.scim.routes import base_url, one_answer, tenant_groups
from storage.db import DbSession
from storage.users.directory import DirectoryRepository
from storage.users.scim_records import ExternalIdTakenError, ScimGroupRecords
from workflows.tenant.membership_contracts import MembershipChangeKind
from workflows.tenant.permissions import BuiltInRole, is_built_in, valid_custom_role_name
from workflows.tenant.role_change_contracts import RoleChangeKind

router = APIRouter(
    prefix=resources.BASE_PATH,
    tags=["scim"],
    route_class=ScimRoute,
    default_response_class=ScimJSONResponse,
    responses=responses(400, 401, 403, 404, 413, 503),
)
#: Where a member removed from a role's Group goes.
FALLBACK_ROLE = BuiltInRole.MEMBER.value
OWNER = BuiltInRole.OWNER.value
ROLE_NAME_RULE = (
    "displayName: a Group is a custom role, named by 3-40 lower-case letters, digits and "
    "hyphens, starting with a letter"
)
EXTERNAL_ID_TAKEN = "another Group of this tenant has this externalId"


async def current_group(request: Request, writer: ScimWriter, group_id: str) -> Group:
    async with writer.transaction() as db:
        groups = await tenant_groups(db, writer.tenant_id, base_url(request))
    for group in groups:
        if group.id == group_id:
            return group
    raise not_found(f"no group {group_id[:100]}")


def _member_ids(group: Group) -> set[uuid.UUID]:
    members = group.members or []
    if len(members) > MAX_GROUP_MEMBERS:
        raise invalid_value(f"members: a write names at most {MAX_GROUP_MEMBERS} members")
    found = set()
    for member in members:
        try:
            found.add(uuid.UUID(str(member.value)))
        except ValueError:
            raise invalid_value("members.value: not the id of a User") from None
    return found


def _external_id(group: Group) -> str | None:
    value = group.external_id or None
    if value is not None and len(value) > EXTERNAL_ID_MAX:
        raise invalid_value(f"externalId: at most {EXTERNAL_ID_MAX} characters")
    return value


async def _refuse_taken(
    db: DbSession, writer: ScimWriter, external_id: str | None, role: str
) -> None:
    if external_id is None:
        return
    holder = await ScimGroupRecords(db, writer.tenant_id).holder_of(external_id)
    if holder is not None and holder != role:
        raise uniqueness(EXTERNAL_ID_TAKEN)


async def _refuse_strangers(writer: ScimWriter, members: list[uuid.UUID]) -> None:
    async with writer.transaction() as db:
        known = await DirectoryRepository(db, writer.tenant_id).members_among(members)
    if set(members) - known:
        raise invalid_value("members.value: not a User of this tenant")


async def _give_role(
    resources_: ResourcesDep, writer: ScimWriter, members: list[uuid.UUID], role: str
) -> None:
    for user_id in members:
        await provisioning.change_membership(
            resources_, writer, user_id, MembershipChangeKind.CHANGE_ROLE, role
        )


async def _apply(
    request: Request, writer: ScimWriter, resources_: ResourcesDep, current: Group, wanted: Group
) -> JSONResponse:
    role = str(current.display_name)
    if wanted.display_name is not None and wanted.display_name != current.display_name:
        raise mutability("displayName is the role's name: a Group cannot be renamed")
    external_id = _external_id(wanted)
    if external_id != (current.external_id or None):
        async with writer.transaction() as db:
            await _refuse_taken(db, writer, external_id, role)
    before, after = _member_ids(current), _member_ids(wanted)
    added, removed = sorted(after - before), sorted(before - after)
    if role == OWNER and before and not after:
        # Checked here too, so a write that would end with no owner changes nobody first.
        raise mutability("the tenant keeps an owner: the owner Group cannot be emptied")
    if removed and role == FALLBACK_ROLE:
        raise mutability(
            f"every member holds a role: a member leaves {FALLBACK_ROLE} by joining another "
            "Group, or the tenant by DELETE /Users/{id}"
        )
    await _refuse_strangers(writer, added)
    await _give_role(resources_, writer, added, role)
    await _give_role(resources_, writer, removed, FALLBACK_ROLE)
    if external_id != (current.external_id or None):
        await _save_external_id(writer, role, external_id)
    return one_answer(await current_group(request, writer, str(current.id)), request)


async def _save_external_id(writer: ScimWriter, role: str, external_id: str | None) -> None:
    try:
        async with writer.transaction() as db:
            await ScimGroupRecords(db, writer.tenant_id).save(role, external_id)
    except ExternalIdTakenError:  # taken meanwhile: the unique index decides
        raise uniqueness(EXTERNAL_ID_TAKEN) from None


@router.put("/Groups/{group_id}", operation_id="scim_put_groups_one")
async def replace_group(
    request: Request, group_id: str, writer: ScimWriterDep, resources_: ResourcesDep
) -> JSONResponse:
    current = await current_group(request, writer, group_id)
    wanted = resource(Group, await json_body(request), Context.RESOURCE_REPLACEMENT_REQUEST)
    return await _apply(request, writer, resources_, current, wanted)


@router.patch("/Groups/{group_id}", operation_id="scim_patch_groups_one")
async def patch_group(
    request: Request, group_id: str, writer: ScimWriterDep, resources_: ResourcesDep
) -> JSONResponse:
    current = await current_group(request, writer, group_id)
    patch = patch_op(Group, await json_body(request))
    return await _apply(request, writer, resources_, current, apply_patch(patch, current))


@router.post("/Groups", status_code=201, operation_id="scim_post_groups", responses=responses(409))
async def create_group(
    request: Request, writer: ScimWriterDep, resources_: ResourcesDep
) -> JSONResponse:
    wanted = resource(Group, await json_body(request), Context.RESOURCE_CREATION_REQUEST)
    name = wanted.display_name or ""
    if is_built_in(name):
        raise uniqueness(f"{name} is a built-in role: its Group exists")
    if not valid_custom_role_name(name):
        raise invalid_value(ROLE_NAME_RULE)
    external_id = _external_id(wanted)
    members = sorted(_member_ids(wanted))
    async with writer.transaction() as db:
        await _refuse_taken(db, writer, external_id, name)
        existing = await tenant_groups(db, writer.tenant_id, base_url(request))
    if any(group.display_name == name for group in existing):
        raise uniqueness(f"the Group {name} exists")
    await _refuse_strangers(writer, members)
    await provisioning.change_role(resources_, writer, RoleChangeKind.CREATE, name, external_id)
    await _give_role(resources_, writer, members, name)
    created = await current_group(request, writer, resources.group_id(writer.tenant_id, name))
    answer = one_answer(created, request)
    answer.status_code = 201
    answer.headers["Location"] = f"{base_url(request)}/Groups/{created.id}"
    return answer


@router.delete("/Groups/{group_id}", status_code=204, operation_id="scim_delete_groups_one")
async def delete_group(
    request: Request, group_id: str, writer: ScimWriterDep, resources_: ResourcesDep
) -> Response:
    current = await current_group(request, writer, group_id)
    role = str(current.display_name)
    if is_built_in(role):
        raise mutability(f"{role} is a built-in role: its Group cannot be deleted")
    holders = sorted(_member_ids(current))
    # Its members go back to member first (as a PATCH removing them would): a role a member
    # holds is not deleted.
    await _give_role(resources_, writer, holders, FALLBACK_ROLE)
    await provisioning.change_role(resources_, writer, RoleChangeKind.DELETE, role)
    return Response(status_code=204)
