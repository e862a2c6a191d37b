"""A tenant's SCIM bearer tokens (``users.scim_tokens``): issued, listed, revoked, and found by
the SHA-256 digest of the presented token, inside the tenant the token names."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

from sqlalchemy import Select, func, or_, select, update

from storage.repository import TenantScopedRepository
from storage.users.models import ScimToken

#: ``last_used_at`` is written at most this often per token (not on every request).
LAST_USED_RESOLUTION_SECONDS: Final = 60
SCIM_TOKENS_MAX: Final = 50


class ScimTokenRepository(TenantScopedRepository[ScimToken]):
    model = ScimToken

    def _mine(self) -> Select[ScimToken]:
        return select(ScimToken).where(ScimToken.tenant_id == self.tenant_id)

    async def issue(self, *, name: str, token_hash: str, created_by: uuid.UUID) -> ScimToken:
        row = ScimToken(name=name, token_hash=token_hash, created_by=created_by)
        await self.add(row)
        await self.session.refresh(row)
        return row

    async def all(self) -> list[ScimToken]:
        result = await self.session.scalars(
            self._mine().order_by(ScimToken.created_at.desc(), ScimToken.id).limit(500)
        )
        return list(result)

    async def active_count(self) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(ScimToken)
            .where(ScimToken.tenant_id == self.tenant_id, ScimToken.revoked_at.is_(None))
        )
        return int(count or 0)

    async def revoke(self, token_id: uuid.UUID) -> ScimToken | None:
        """The token, revoked now (or when it was already); None for an unknown id."""
        await self.session.execute(
            update(ScimToken)
            .where(
                ScimToken.tenant_id == self.tenant_id,
                ScimToken.id == token_id,
                ScimToken.revoked_at.is_(None),
            )
            .values(revoked_at=func.now())
            .execution_options(synchronize_session=False)
        )
        return await self.session.scalar(
            self._mine().where(ScimToken.id == token_id).execution_options(populate_existing=True)
        )

    async def authenticate(self, token_hash: str, now: datetime) -> ScimToken | None:
        """The unrevoked token of that digest in this tenant, its use recorded (at most once
        per ``LAST_USED_RESOLUTION_SECONDS``)."""
        row = await self.session.scalar(
            self._mine().where(ScimToken.token_hash == token_hash, ScimToken.revoked_at.is_(None))
        )
        if row is None:
            return None
        await self.session.execute(
            update(ScimToken)
            .where(
                ScimToken.id == row.id,
                or_(
                    ScimToken.last_used_at.is_(None),
                    ScimToken.last_used_at
                    < func.now()
                    - func.make_interval(0, 0, 0, 0, 0, 0, LAST_USED_RESOLUTION_SECONDS),
                ),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        return row
