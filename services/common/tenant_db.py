"""The tenant-scoped unit of work of a request, as a FastAPI dependency.

A route that reads or writes tenant-owned or user-owned rows asks for ``TenantDb`` instead of
opening a transaction itself: the transaction's row-level-security tenant
(``storage.db.TENANT_SETTING``) is the verified caller's ``tid`` claim, so a route cannot forget
the scoping nor pick another tenant; the caller's user id is the acting user
(``storage.db.ACTOR_SETTING``), which lets them see their own memberships in every tenant. No ``tid`` (a caller outside any tenant): the transaction
has no tenant and RLS shows no tenant rows (docs/data.md). Commit when the route returns,
rollback when it raises; the transaction ends before the response is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends

from services.common.app import DatabaseDep
from services.common.principal import PrincipalDep
from storage.db import DbSession, transaction


async def tenant_transaction(
    principal: PrincipalDep, database: DatabaseDep
) -> AsyncIterator[DbSession]:
    tenant_id = uuid.UUID(principal.tenant_id) if principal.tenant_id else None
    user_id = _user_uuid(principal.user_id)
    async with transaction(database, tenant_id, user_id=user_id) as db:
        yield db


def _user_uuid(subject: str | None) -> uuid.UUID | None:
    """The caller's user id (a service principal's subject is not one: no actor then)."""
    try:
        return uuid.UUID(subject) if subject else None
    except ValueError:
        return None


#: The request's database transaction, scoped to the caller's tenant.
TenantDb = Annotated[DbSession, Depends(tenant_transaction)]
