"""Profiles over HTTP. Direct (no workflow): reads and writes of this service's own rows, in the
request's tenant-scoped transaction (``TenantDb``).

- ``GET`` / ``PATCH /users/me``: the caller's own profile.
- ``GET /users/{id}``: one's own, or a member of the caller's active tenant with ``users.read``
  (the gateway's ``user(id)``); anyone else is a 404, as an unknown id.
- ``PATCH /users/{id}``: one's own, or a member of the active tenant with ``members.manage``
  (an owner's only by an owner; ``services/user/access.py``).

A change to a field other services copy is committed, then signalled to the user's
``user_profile_sync`` run (``services/user/profiles/changes.py``), which carries it to them.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from services.common.app import ResourcesDep
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep, may_read_profile
from services.common.tenant_db import TenantDb
from services.user.access import caller_id, check_may_change, has, member_entry
from services.user.errors import user_error
from services.user.profiles.changes import save_profile
from services.user.schemas import UpdateProfileRequest, UserProfileOut
from storage.users.models import Profile
from storage.users.repository import ProfileRepository
from workflows.tenant.permissions import Permission
from workflows.user.contracts import UserError

router = APIRouter(prefix="/users", tags=["profiles"])  # authenticated app-wide (create_app)

Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: problem_response(404, "No such user, or one the caller cannot see")}
INVALID: Responses = {422: problem_response(422, "A field breaks its rule (the message names it)")}
UNAVAILABLE: Responses = {
    503: problem_response(503, "Saved, but the services that copy it could not be told yet")
}
REFUSED: Responses = {
    403: problem_response(403, "No members.manage permission, or an owner's profile"),
}


def profile_out(row: Profile) -> UserProfileOut:
    return UserProfileOut(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        created_at=row.created_at,
        given_name=row.given_name,
        family_name=row.family_name,
        avatar_file_id=row.avatar_file_id,
        locale=row.locale,
        time_zone=row.time_zone,
        title=row.title,
        phone=row.phone,
        status=row.status,
        updated_at=row.updated_at,
    )


def _not_found(user_id: uuid.UUID | str) -> Exception:
    return user_error(UserError.USER_NOT_FOUND, f"user {user_id} not found")


@router.get("/me", responses=NOT_FOUND)
async def get_me(principal: PrincipalDep, db: TenantDb) -> UserProfileOut:
    me = caller_id(principal)
    row = await ProfileRepository(db).get(me)
    if row is None:
        raise _not_found(me)
    return profile_out(row)


@router.patch("/me", responses={**NOT_FOUND, **INVALID, **UNAVAILABLE})
async def update_me(
    body: UpdateProfileRequest, principal: PrincipalDep, db: TenantDb, resources: ResourcesDep
) -> UserProfileOut:
    return profile_out(await save_profile(db, resources, caller_id(principal), body.changes()))


@router.get("/{user_id}", responses=NOT_FOUND)
async def get_user(user_id: uuid.UUID, principal: PrincipalDep, db: TenantDb) -> UserProfileOut:
    visible = may_read_profile(principal, user_id) or (
        has(principal, Permission.USERS_READ)
        and await member_entry(db, principal, user_id) is not None
    )
    row = await ProfileRepository(db).get(user_id) if visible else None
    if row is None:
        raise _not_found(user_id)
    return profile_out(row)


@router.patch("/{user_id}", responses={**NOT_FOUND, **INVALID, **REFUSED, **UNAVAILABLE})
async def update_user(
    user_id: uuid.UUID,
    body: UpdateProfileRequest,
    principal: PrincipalDep,
    db: TenantDb,
    resources: ResourcesDep,
) -> UserProfileOut:
    if not may_read_profile(principal, user_id):
        target = await member_entry(db, principal, user_id)
        if target is None:
            raise _not_found(user_id)
        check_may_change(principal, target)
    return profile_out(await save_profile(db, resources, user_id, body.changes()))
