"""SCIM writes of ``Groups``, which are the tenant's roles: a member added to a Group gets that
role, one removed from it goes back to ``member`` (``membership_change`` CHANGE_ROLE for each,
waited for in turn). ``PUT`` states the whole member list, ``PATCH`` changes it (``members``
add/remove/replace, ``members[value eq "<id>"]``).

A Group's name is its role's: renaming is a 400 ``mutability``. Creating or deleting a Group
(a custom role) is the tenant service's roles API, not yet reachable over SCIM (501). Every
member named is checked to be a member of the token's tenant before any change starts; each
change is then its own run (a refusal, e.g. of the last owner's demotion, answers the error, and
the changes before it stay made)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
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
    not_implemented,
    responses,
)
from services.user.scim.routes import base_url, one_answer, tenant_groups
from storage.users.directory import DirectoryRepository
from workflows.tenant.membership_contracts import MembershipChangeKind
from workflows.tenant.permissions import BuiltInRole

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
ROLES_ELSEWHERE = (
    "Groups are the tenant's roles: create or delete a custom role through the tenant's roles "
    "API (POST /tenants/{tenant_id}/roles); SCIM manages their members"
)


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


async def _apply(
    request: Request, writer: ScimWriter, resources_: ResourcesDep, current: Group, wanted: Group
) -> JSONResponse:
    role = str(current.display_name)
    if wanted.display_name is not None and wanted.display_name != current.display_name:
        raise mutability("displayName is the role's name: a Group cannot be renamed")
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
    async with writer.transaction() as db:
        known = await DirectoryRepository(db, writer.tenant_id).members_among(added)
    if set(added) - known:
        raise invalid_value("members.value: not a User of this tenant")
    for user_id, new_role in [(u, role) for u in added] + [(u, FALLBACK_ROLE) for u in removed]:
        await provisioning.change_membership(
            resources_, writer, user_id, MembershipChangeKind.CHANGE_ROLE, new_role
        )
    return one_answer(await current_group(request, writer, str(current.id)), request)


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


@router.post("/Groups", operation_id="scim_post_groups", responses=responses(501))
async def create_group(_: ScimWriterDep) -> JSONResponse:
    raise not_implemented(ROLES_ELSEWHERE)


@router.delete(
    "/Groups/{group_id}", operation_id="scim_delete_groups_one", responses=responses(501)
)
async def delete_group(request: Request, group_id: str, writer: ScimWriterDep) -> JSONResponse:
    await current_group(request, writer, group_id)
    raise not_implemented(ROLES_ELSEWHERE)
