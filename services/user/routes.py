"""User service HTTP API: profile reads (the gateway's queries land here)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.common.app import SessionsDep
from services.common.errors import NotFoundError
from storage.db import transaction
from storage.users.models import Profile
from storage.users.repository import ProfileRepository

router = APIRouter(prefix="/users", tags=["users"])

MAX_BATCH = 100


class ProfileOut(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    created_at: datetime

    @classmethod
    def of(cls, row: Profile) -> ProfileOut:
        return cls(
            id=row.id, email=row.email, display_name=row.display_name, created_at=row.created_at
        )


@router.get("/{user_id}", responses={404: {"description": "No such user"}})
async def get_user(user_id: uuid.UUID, sessions: SessionsDep) -> ProfileOut:
    async with transaction(sessions) as session:
        row = await ProfileRepository(session).get(user_id)
    if row is None:
        raise NotFoundError(f"user {user_id} not found")
    return ProfileOut.of(row)


@router.get("")
async def get_users(
    sessions: SessionsDep,
    ids: Annotated[list[uuid.UUID], Query(min_length=1, max_length=MAX_BATCH)],
) -> list[ProfileOut]:
    """Batch read for DataLoaders; unknown ids are simply absent from the answer."""
    async with transaction(sessions) as session:
        rows = await ProfileRepository(session).get_many(ids)
    return [ProfileOut.of(r) for r in rows]
