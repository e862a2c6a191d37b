"""User service HTTP API: profile reads (the gateway's queries land here, with the caller's
token). The caller sees exactly what the gateway would show them (``may_read_profile``): an
invisible profile answers like an unknown one, so ids cannot be probed."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.common.errors import NotFoundError
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep, may_read_profile
from services.common.tenant_db import TenantDb
from services.user.schemas import ProfileOut
from storage.users.models import Profile
from storage.users.repository import ProfileRepository

router = APIRouter(prefix="/users", tags=["users"])  # authenticated app-wide (create_app)

MAX_BATCH = 100


def _profile_out(row: Profile) -> ProfileOut:
    return ProfileOut(
        id=row.id, email=row.email, display_name=row.display_name, created_at=row.created_at
    )


@router.get("/{user_id}", responses={404: problem_response(404, "No such user")})
async def get_user(user_id: uuid.UUID, principal: PrincipalDep, db: TenantDb) -> ProfileOut:
    row = None
    if may_read_profile(principal, user_id):
        row = await ProfileRepository(db).get(user_id)
    if row is None:
        raise NotFoundError(f"user {user_id} not found")
    return _profile_out(row)


@router.get("")
async def get_users(
    principal: PrincipalDep,
    db: TenantDb,
    ids: Annotated[list[uuid.UUID], Query(min_length=1, max_length=MAX_BATCH)],
) -> list[ProfileOut]:
    """Batch read for DataLoaders; unknown and invisible ids are simply absent from the answer."""
    visible = [i for i in ids if may_read_profile(principal, i)]
    if not visible:
        return []
    rows = await ProfileRepository(db).get_many(visible)
    return [_profile_out(r) for r in rows]
