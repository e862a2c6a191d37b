"""The tenant service's copy of profile data (``user_profile_sync``): a member's display name and
address on their memberships, written only by a newer profile version."""

from __future__ import annotations

import uuid

from sqlalchemy import update

from storage.db import DbSession
from storage.tenants.models import Membership


async def copy_member_profile(
    db: DbSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    display_name: str,
    email: str,
    version: int,
) -> int:
    """The rows changed in ``tenant_id`` (the transaction's tenant): 0 when the membership holds
    this version or a later one (a retried or late delivery), or there is none."""
    result = await db.execute(
        update(Membership)
        .where(
            Membership.tenant_id == tenant_id,
            Membership.user_id == user_id,
            Membership.profile_version < version,
        )
        .values(display_name=display_name, email=email, profile_version=version)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
