"""Sessions and their rotating refresh tokens (only SHA-256 hashes of tokens are stored, and a
spent token's successor sealed under a key derived from the spent token: never a token in clear)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.auth.models import RefreshToken, Session
from storage.repository import Repository

#: An ORM session (inside the caller's transaction) or a Core connection (hot paths).
Executor = AsyncSession | AsyncConnection

_OPEN = text(
    "WITH opened AS (INSERT INTO auth.sessions (id, user_id, tenant_id, expires_at,"
    " auth_methods, ip, user_agent) VALUES (:sid, :uid, :tid, :expires, :methods,"
    " :ip, :agent)),"
    " refresh AS (INSERT INTO auth.refresh_tokens (id, session_id, token_hash,"
    " expires_at) VALUES (:rid, :sid, :hash, :rexpires))"
    " INSERT INTO auth.audit_events (id, event, user_id, session_id, ip, detail)"
    " VALUES (:aid, 'session.started', :uid, :sid, :ip, CAST(:detail AS jsonb))"
)


async def open_session(
    db: Executor,
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
    """The session, its first refresh token and the audit row in one statement (the foreign
    key is checked at the end of the statement, so the CTEs may insert both): atomic on its own,
    so it needs no transaction around it."""
    session_id = uuid.uuid4()
    await db.execute(
        _OPEN,
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


@dataclass(frozen=True)
class RotatedSession:
    """The session whose refresh token was just rotated: what its new access token names."""

    id: uuid.UUID
    user_id: uuid.UUID
    tenant_id: uuid.UUID | None
    auth_methods: list[str]
    #: The user's roles in the session's tenant (none without a tenant, or no longer a member).
    roles: list[str]
    #: The effective permissions of those roles in the tenant.
    permissions: list[str]
    #: The profile's display name (``user_profile_sync``), None until one was copied.
    name: str | None = None


# The token and its session are locked (FOR UPDATE re-reads a row changed meanwhile and
# re-checks the conditions, as the two-statement path does); only a current token of a live
# session matches. PostgreSQL materialises a locking CTE once, and runs every data-modifying
# CTE exactly once, so the statement spends, touches and issues together or not at all.
_ROTATE_CURRENT = text(
    "WITH current AS (SELECT t.id, s.id AS session_id, s.user_id, s.tenant_id,"
    " s.auth_methods, s.expires_at FROM auth.refresh_tokens t"
    " JOIN auth.sessions s ON s.id = t.session_id"
    " WHERE t.token_hash = :hash AND t.used_at IS NULL AND t.expires_at > :now"
    " AND s.revoked_at IS NULL AND s.expires_at > :now FOR UPDATE OF t, s),"
    " spent AS (UPDATE auth.refresh_tokens SET used_at = :now,"
    " successor_sealed = CAST(:sealed AS varchar) WHERE id = (SELECT id FROM current)),"
    " touched AS (UPDATE auth.sessions SET last_seen_at = :now"
    " WHERE id = (SELECT session_id FROM current)),"
    " issued AS (INSERT INTO auth.refresh_tokens (id, session_id, token_hash, expires_at,"
    " created_at) SELECT CAST(:id AS uuid), session_id, CAST(:new_hash AS varchar),"
    " LEAST(CAST(:expires AS timestamptz), expires_at), :now FROM current)"
    # The roles for the new access token, read by the same statement: a failure to read them
    # leaves the presented token unspent, as when the rotation and the read shared a transaction.
    " SELECT c.session_id, c.user_id, c.tenant_id, c.auth_methods, m.roles, m.permissions,"
    " (SELECT display_name FROM auth.credentials WHERE id = c.user_id)"
    " FROM current c"
    " LEFT JOIN auth.principal_claims m ON m.user_id = c.user_id AND m.tenant_id = c.tenant_id"
)


async def rotate_current(
    db: Executor,
    *,
    token_hash: str,
    new_hash: str,
    expires_at: datetime,
    now: datetime,
    sealed: str | None = None,
) -> RotatedSession | None:
    """Rotate a current refresh token in one statement: spend it (keeping ``sealed``, its
    successor sealed for the reuse interval), touch its session, store ``new_hash`` (expiring
    at ``expires_at``, or with the session if sooner). None when the
    token is unknown, spent or expired, or its session ended: nothing changed then, and the
    caller's two-statement path (``lock_with_session``) tells which, and acts on a reuse."""
    row = (
        await db.execute(
            _ROTATE_CURRENT,
            {
                "hash": token_hash,
                "now": now,
                "id": uuid.uuid4(),
                "new_hash": new_hash,
                "expires": expires_at,
                "sealed": sealed,
            },
        )
    ).first()
    if row is None:
        return None
    return RotatedSession(
        row[0], row[1], row[2], list(row[3]), list(row[4] or ()), list(row[5] or ()), row[6]
    )


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
        sealed: str | None = None,
    ) -> None:
        """Spend the old token (keeping ``sealed``, its successor sealed), touch the session and
        store the new token: one statement."""
        await self.session.execute(
            text(
                "WITH spent AS (UPDATE auth.refresh_tokens SET used_at = :now,"
                " successor_sealed = CAST(:sealed AS varchar) WHERE id = :spent),"
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
                "sealed": sealed,
            },
        )

    async def current_in_session(
        self, token_hash: str, session_id: uuid.UUID, now: datetime
    ) -> RefreshToken | None:
        """The session's token with this hash if it is still current (unspent, unexpired)."""
        return await self.session.scalar(
            select(RefreshToken).where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.session_id == session_id,
                RefreshToken.used_at.is_(None),
                RefreshToken.expires_at > now,
            )
        )


async def active_session_ids_in_tenant(
    db: AsyncSession, user_id: uuid.UUID, tenant_id: uuid.UUID
) -> list[uuid.UUID]:
    """The user's unrevoked sessions opened in ``tenant_id`` (a membership change revokes them)."""
    return list(
        await db.scalars(
            select(Session.id).where(
                Session.user_id == user_id,
                Session.tenant_id == tenant_id,
                Session.revoked_at.is_(None),
            )
        )
    )


@dataclass(frozen=True)
class SwitchedSession:
    """A live session now in another tenant: what its new access token names."""

    auth_methods: list[str]
    previous_tenant_id: uuid.UUID | None
    roles: list[str]
    permissions: list[str]
    #: The profile's display name (``user_profile_sync``), None until one was copied.
    name: str | None = None


# One statement: the member's claims in the target tenant, the session moved there (only a live
# session of this user, only when those claims exist) and the audit row. No claims (not a
# member, a tenant that does not exist, or one whose claims its suspension removed) matches
# nothing and changes nothing. The previous tenant is read from the row before the update (the
# FROM list's snapshot), for the audit trail and the bookkeeping run.
_SWITCH = text(
    "WITH claims AS (SELECT roles, permissions FROM auth.principal_claims"
    " WHERE user_id = :uid AND tenant_id = :tid),"
    " before AS (SELECT id, tenant_id FROM auth.sessions WHERE id = :sid AND user_id = :uid"
    " AND revoked_at IS NULL AND expires_at > :now FOR UPDATE),"
    " moved AS (UPDATE auth.sessions s SET tenant_id = :tid, last_seen_at = :now FROM before b"
    " WHERE s.id = b.id AND EXISTS (SELECT 1 FROM claims)"
    " RETURNING s.auth_methods, b.tenant_id AS previous),"
    " audited AS (INSERT INTO auth.audit_events (id, event, user_id, session_id, ip, detail)"
    " SELECT :aid, 'session.tenant_switched', :uid, :sid, :ip,"
    " jsonb_build_object('from', moved.previous, 'to', CAST(:tid AS uuid)) FROM moved)"
    " SELECT moved.auth_methods, moved.previous, claims.roles, claims.permissions,"
    " (SELECT display_name FROM auth.credentials WHERE id = :uid)"
    " FROM moved, claims"
)


async def switch_session_tenant(
    db: Executor,
    *,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    now: datetime,
    ip: str | None,
) -> SwitchedSession | None:
    """Move the user's live session into ``tenant_id`` if they hold claims there (atomic on its
    own: one statement). None when they do not, or the session ended: nothing changed then."""
    row = (
        await db.execute(
            _SWITCH,
            {
                "uid": user_id,
                "tid": tenant_id,
                "sid": session_id,
                "now": now,
                "aid": uuid.uuid4(),
                "ip": ip,
            },
        )
    ).first()
    if row is None:
        return None
    return SwitchedSession(list(row[0]), row[1], list(row[2]), list(row[3] or ()), row[4])
