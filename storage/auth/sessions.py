"""Sessions and their rotating refresh tokens (only SHA-256 hashes of tokens are stored)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update

from storage.auth.models import RefreshToken, Session
from storage.repository import Repository


class SessionRepository(Repository[Session]):
    model = Session

    async def active_for_user(self, user_id: uuid.UUID, now: datetime) -> list[Session]:
        rows = await self.session.scalars(
            select(Session)
            .where(
                Session.user_id == user_id,
                Session.revoked_at.is_(None),
                Session.expires_at > now,
            )
            .order_by(Session.created_at.desc())
        )
        return list(rows)

    async def revoke(self, session_id: uuid.UUID, reason: str) -> bool:
        result = await self.session.execute(
            update(Session)
            .where(Session.id == session_id, Session.revoked_at.is_(None))
            .values(revoked_at=func.now(), revoked_reason=reason)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_all(
        self, user_id: uuid.UUID, reason: str, *, keep: uuid.UUID | None = None
    ) -> list[uuid.UUID]:
        statement = (
            update(Session)
            .where(Session.user_id == user_id, Session.revoked_at.is_(None))
            .values(revoked_at=func.now(), revoked_reason=reason)
            .returning(Session.id)
        )
        if keep is not None:
            statement = statement.where(Session.id != keep)
        return list((await self.session.scalars(statement)).all())

    async def touch(self, session_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Session).where(Session.id == session_id).values(last_seen_at=func.now())
        )


class RefreshTokenRepository(Repository[RefreshToken]):
    model = RefreshToken

    async def by_hash_for_update(self, token_hash: str) -> RefreshToken | None:
        """Locks the row: two concurrent refreshes with one token cannot both rotate it."""
        return await self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        )

    async def mark_used(self, token_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken).where(RefreshToken.id == token_id).values(used_at=now)
        )
