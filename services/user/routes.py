"""User service HTTP API, core: the batch profile read the gateway's DataLoader uses (with the
caller's token). A profile the caller may not see is simply absent from the answer, so ids
cannot be probed: one's own, and with ``users.read`` the members of the active tenant (per the
directory copy). The single reads and the writes are ``services/user/profiles/``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.common.principal import PrincipalDep, may_read_profile
from services.common.tenant_db import TenantDb
from services.user.access import has
from services.user.schemas import ProfileOut
from storage.users.directory import DirectoryRepository
from storage.users.models import Profile
from storage.users.repository import ProfileRepository
from workflows.tenant.permissions import Permission

router = APIRouter(prefix="/users", tags=["users"])  # authenticated app-wide (create_app)

MAX_BATCH = 100


def _profile_out(row: Profile) -> ProfileOut:
    return ProfileOut(
        id=row.id, email=row.email, display_name=row.display_name, created_at=row.created_at
    )


@router.get("")
async def get_users(
    principal: PrincipalDep,
    db: TenantDb,
    ids: Annotated[list[uuid.UUID], Query(min_length=1, max_length=MAX_BATCH)],
) -> list[ProfileOut]:
    """Batch read for DataLoaders; unknown and invisible ids are simply absent from the answer."""
    visible = {i for i in ids if may_read_profile(principal, i)}
    others = [i for i in ids if i not in visible]
    if others and principal.tenant_id is not None and has(principal, Permission.USERS_READ):
        tenant_id = uuid.UUID(principal.tenant_id)
        visible |= await DirectoryRepository(db, tenant_id).members_among(others)
    if not visible:
        return []
    rows = await ProfileRepository(db).get_many(list(visible))
    return [_profile_out(r) for r in rows]
