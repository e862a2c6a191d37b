"""Sessions and their rotating refresh tokens (only SHA-256 hashes of tokens are stored)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import func, select, text, update

from storage.auth.models import RefreshToken, Session
from storage.repository import Repository


class SessionRepository(Repository[Session]):
    model = Session

    async def open(
        self,
        *,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID | None,
        expires_at: datetime,
        auth_methods: list[str],
        ip: str | None,
        user_agent: str | None,
        refresh_hash: str,
        refresh_expires_at: datetime,
        audit_detail: dict[str, object],
    ) -> uuid.UUID:
        """The session, its first refresh token and the audit row in one statement (the
        foreign key is checked at the end of the statement, so the CTEs may insert both)."""
        session_id = uuid.uuid4()
        await self.session.execute(
            text(
                "WITH opened AS (INSERT INTO auth.sessions (id, user_id, tenant_id, expires_at,"
                " auth_methods, ip, user_agent) VALUES (:sid, :uid, :tid, :expires, :methods,"
                " :ip, :agent)),"
                " refresh AS (INSERT INTO auth.refresh_tokens (id, session_id, token_hash,"
                " expires_at) VALUES (:rid, :sid, :hash, :rexpires))"
                " INSERT INTO auth.audit_events (id, event, user_id, session_id, ip, detail)"
                " VALUES (:aid, 'session.started', :uid, :sid, :ip, CAST(:detail AS jsonb))"
            ),
            {
                "sid": session_id,
                "uid": user_id,
                "tid": tenant_id,
                "expires": expires_at,
                "methods": auth_methods,
                "ip": ip,
                "agent": user_agent,
                "rid": uuid.uuid4(),
                "hash": refresh_hash,
                "rexpires": refresh_expires_at,
                "aid": uuid.uuid4(),
                "detail": json.dumps(audit_detail),
            },
        )
        return session_id

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


class RefreshTokenRepository(Repository[RefreshToken]):
    model = RefreshToken

    async def lock_with_session(self, token_hash: str) -> tuple[RefreshToken, Session] | None:
        """The token and its session, both locked, in one round trip: two concurrent refreshes
        with one token cannot both rotate it."""
        row = (
            await self.session.execute(
                select(RefreshToken, Session)
                .join(Session, Session.id == RefreshToken.session_id)
                .where(RefreshToken.token_hash == token_hash)
                .with_for_update(of=[RefreshToken, Session])
            )
        ).first()
        return (row[0], row[1]) if row is not None else None

    async def rotate(
        self,
        *,
        spent: uuid.UUID,
        session_id: uuid.UUID,
        new_hash: str,
        expires_at: datetime,
        now: datetime,
    ) -> None:
        """Spend the old token, touch the session and store the new token: one statement."""
        await self.session.execute(
            text(
                "WITH spent AS (UPDATE auth.refresh_tokens SET used_at = :now WHERE id = :spent),"
                " touched AS (UPDATE auth.sessions SET last_seen_at = :now WHERE id = :sid)"
                " INSERT INTO auth.refresh_tokens (id, session_id, token_hash, expires_at,"
                " created_at) VALUES (:id, :sid, :hash, :expires, :now)"
            ),
            {
                "now": now,
                "spent": spent,
                "sid": session_id,
                "id": uuid.uuid4(),
                "hash": new_hash,
                "expires": expires_at,
            },
        )
