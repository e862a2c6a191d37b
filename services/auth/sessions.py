"""Sessions: start, refresh with rotation and reuse detection, list, revoke.

Reuse interval (``ADX_AUTH_REFRESH_REUSE_SECONDS``): two tabs that refresh with one token at
once must not log the user out. A spent token presented again within the interval after its
rotation gets the *same* successor (and a new access token for the same session) as long as
that successor is still current; later, or once the successor was itself used, it is a reuse
and the whole session is revoked.

The successor is stored sealed on the spent token's row: AES-256-GCM under a key derived (HMAC)
from the seal key (``ADX_SEAL_KEYS``, not the payload keys codec operators hold) *and the spent
token itself*, which only the client ever held (the database keeps its SHA-256). A database
dump, even with the seal keys, opens no sealed
successor without the old token in hand, and whoever holds the old token within the interval
is exactly who the interval answers anyway. Deriving the successor as an HMAC of the old token
was rejected: it makes the whole chain computable from one token and the server secret, without
ever presenting a token (no reuse detection), whereas a sealed successor is 256 fresh random
bits and yields at most the next token.
"""

from __future__ import annotations

import base64
import hmac
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redis.asyncio import Redis

from services.auth.opaque import hash_token, new_token
from services.auth.token_issuer import TokenIssuer
from services.common.errors import UnauthorizedError
from services.common.sealing import SealKeys, sealer_for
from services.common.settings import Settings
from services.common.tokens import revoked_session_key
from storage.auth.audit import AuditRepository
from storage.auth.claims import MemberClaims, display_name, member_claims
from storage.auth.models import RefreshToken, Session
from storage.auth.sessions import (
    RefreshTokenRepository,
    SessionRepository,
    open_session,
    rotate_current,
)
from storage.db import (
    Database,
    DbConnection,
    DbSession,
    engine_of,
    single_statements,
    transaction,
)
from storage.redis import RedisKeys


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None = None
    user_agent: str | None = None


def now() -> datetime:
    return datetime.now(UTC)


_SEAL_LABEL = b"adx-refresh-successor\x00"
_SEAL_AAD = b"auth.refresh_tokens.successor_sealed"


class SuccessorSeal:
    """Seals a refresh token's successor under a key only the old token (plus the seal key)
    can derive: ``<kid>:<base64url(nonce + ciphertext + tag)>``."""

    def __init__(self, keys: SealKeys) -> None:
        self.keys = keys

    def _key(self, kid: str, old: str) -> bytes:
        root = self.keys.keys[kid]
        return hmac.digest(root, _SEAL_LABEL + old.encode("utf-8", "surrogatepass"), "sha256")

    def seal(self, old: str, successor: str) -> str:
        kid = self.keys.active
        nonce = os.urandom(12)
        sealed = AESGCM(self._key(kid, old)).encrypt(nonce, successor.encode(), _SEAL_AAD)
        return f"{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, old: str, stored: str) -> str | None:
        """The successor, or None when the value does not open with this token (or its key was
        retired since): the caller then treats the presentation as a reuse."""
        kid, _, data = stored.partition(":")
        if kid not in self.keys.keys:
            return None
        try:
            raw = base64.urlsafe_b64decode(data)
            plain = AESGCM(self._key(kid, old)).decrypt(raw[:12], raw[12:], _SEAL_AAD)
        except (InvalidTag, ValueError):
            return None
        return plain.decode()


class SessionService:
    def __init__(
        self,
        database: Database,
        issuer: TokenIssuer,
        redis: Redis,
        keys: RedisKeys,
        settings: Settings,
        seal_keys: SealKeys | None = None,
    ) -> None:
        self.database = database
        self.engine = engine_of(database)
        self.issuer = issuer
        self.redis = redis
        self.keys = keys
        self.refresh_ttl = timedelta(days=settings.auth_refresh_token_days)
        self.session_ttl = timedelta(days=settings.auth_session_max_days)
        self.access_ttl = settings.auth_access_token_seconds
        self.reuse_interval = timedelta(seconds=settings.auth_refresh_reuse_seconds)
        self.seal = (
            SuccessorSeal(seal_keys or sealer_for(settings).keys)
            if settings.auth_refresh_reuse_seconds > 0
            else None
        )

    def _pair(
        self,
        *,
        session_id: uuid.UUID,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID | None,
        auth_methods: Sequence[str],
        claims: MemberClaims,
        refresh_token: str,
    ) -> IssuedTokens:
        """A session's token pair: a signed access token beside its new refresh token."""
        return IssuedTokens(
            access_token=self.issuer.access_token(
                user_id=str(user_id),
                session_id=str(session_id),
                tenant_id=str(tenant_id) if tenant_id else None,
                roles=claims.roles,
                permissions=claims.permissions,
                auth_methods=auth_methods,
                name=claims.name,
            ),
            refresh_token=refresh_token,
            expires_in=self.access_ttl,
            session_id=str(session_id),
        )

    @staticmethod
    async def _claims(
        db: DbSession | DbConnection, user_id: uuid.UUID, tenant_id: uuid.UUID | None
    ) -> MemberClaims:
        if tenant_id is None:
            return MemberClaims(name=await display_name(db, user_id))
        return await member_claims(db, user_id, tenant_id) or MemberClaims(
            name=await display_name(db, user_id)
        )

    async def start(
        self,
        db: DbSession | DbConnection,
        *,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID | None,
        auth_methods: Sequence[str],
        client: ClientInfo,
        claims: MemberClaims | None = None,
    ) -> IssuedTokens:
        """Open a session in the caller's transaction (or, on a ``single_statements``
        connection, in its own) and issue its first token pair; ``claims`` if the caller has
        just read them."""
        moment = now()
        expires_at = moment + self.session_ttl
        refresh, digest = new_token()
        session_id = await open_session(
            db,
            user_id=user_id,
            tenant_id=tenant_id,
            expires_at=expires_at,
            auth_methods=list(auth_methods),
            ip=client.ip,
            user_agent=(client.user_agent or "")[:300] or None,
            refresh_hash=digest,
            refresh_expires_at=min(moment + self.refresh_ttl, expires_at),
            audit_detail={"methods": list(auth_methods)},
        )
        if claims is None:
            claims = await self._claims(db, user_id, tenant_id)
        return self._pair(
            session_id=session_id,
            user_id=user_id,
            tenant_id=tenant_id,
            auth_methods=auth_methods,
            claims=claims,
            refresh_token=refresh,
        )

    def _sealed(self, old: str, successor: str) -> str | None:
        return self.seal.seal(old, successor) if self.seal is not None else None

    async def refresh(self, raw: str, client: ClientInfo) -> IssuedTokens:
        """Rotate: the presented token is spent and a new one issued. Presenting a spent token
        again means it was stolen (or replayed): the whole session is revoked — unless it comes
        within the reuse interval after its rotation and its successor is still current, when
        it gets that same successor (module docstring).

        A current token rotates in one statement; any other (unknown, spent, expired, session
        ended) takes the locking two-statement path, which tells which and acts on a reuse.
        Two simultaneous refreshes with one token: the second waits on the first one's row
        lock, finds the token spent, and takes the locking path, which sees the sealed
        successor the first one committed."""
        digest = hash_token(raw)
        fresh, fresh_digest = new_token()
        moment = now()
        async with single_statements(self.engine) as conn:
            rotated = await rotate_current(
                conn,
                token_hash=digest,
                new_hash=fresh_digest,
                expires_at=moment + self.refresh_ttl,
                now=moment,
                sealed=self._sealed(raw, fresh),
            )
        if rotated is not None:
            return self._pair(
                session_id=rotated.id,
                user_id=rotated.user_id,
                tenant_id=rotated.tenant_id,
                auth_methods=rotated.auth_methods,
                claims=MemberClaims(rotated.roles, rotated.permissions, rotated.name),
                refresh_token=fresh,
            )
        return await self._refresh_locked(raw, digest, client)

    async def _successor(
        self, db: DbSession, raw: str, token: RefreshToken, session: Session, moment: datetime
    ) -> str | None:
        """The spent token's successor if the reuse interval answers this presentation: within
        the interval after the rotation, the session live, the successor opens with the
        presented token and is still current (unspent, unexpired). Both rows are locked by the
        caller, so the successor cannot be rotated meanwhile."""
        if (
            self.seal is None
            or token.successor_sealed is None
            or token.used_at is None
            or moment - token.used_at > self.reuse_interval
            or session.revoked_at is not None
            or session.expires_at <= moment
        ):
            return None
        successor = self.seal.open(raw, token.successor_sealed)
        if successor is None:
            return None
        current = await RefreshTokenRepository(db).current_in_session(
            hash_token(successor), session.id, moment
        )
        return successor if current is not None else None

    async def _session_pair(self, db: DbSession, session: Session, refresh: str) -> IssuedTokens:
        """``session``'s token pair with ``refresh``, its claims read in ``db``."""
        return self._pair(
            session_id=session.id,
            user_id=session.user_id,
            tenant_id=session.tenant_id,
            auth_methods=session.auth_methods,
            claims=await self._claims(db, session.user_id, session.tenant_id),
            refresh_token=refresh,
        )

    async def _refresh_locked(self, raw: str, digest: str, client: ClientInfo) -> IssuedTokens:
        failure: str | None = None
        reused = False
        async with transaction(self.database) as db:
            tokens = RefreshTokenRepository(db)
            found = await tokens.lock_with_session(digest)
            if found is None:
                raise UnauthorizedError("invalid refresh token")
            token, session = found
            moment = now()
            successor = (
                await self._successor(db, raw, token, session, moment)
                if token.used_at is not None
                else None
            )
            if successor is not None:
                # Within the reuse interval: the same successor, nothing written.
                issued = await self._session_pair(db, session, successor)
            elif token.used_at is not None:
                reused, failure = True, "refresh token already used; the session is revoked"
                if session.revoked_at is None:
                    await SessionRepository(db).revoke(session.id, "refresh_token_reuse")
                    await AuditRepository(db).record(
                        "session.refresh_reuse_detected",
                        user_id=session.user_id,
                        session_id=session.id,
                        ip=client.ip,
                    )
            elif session.revoked_at is not None or session.expires_at <= moment:
                failure = "session ended"
            elif token.expires_at <= moment:
                failure = "refresh token expired"
            else:
                fresh, fresh_digest = new_token()
                await tokens.rotate(
                    spent=token.id,
                    session_id=session.id,
                    new_hash=fresh_digest,
                    expires_at=min(moment + self.refresh_ttl, session.expires_at),
                    now=moment,
                    sealed=self._sealed(raw, fresh),
                )
                issued = await self._session_pair(db, session, fresh)
        # Raised after the commit, so the revocation of a reused token's session sticks.
        if reused:
            await self.deny(session.id)
        if failure is not None:
            raise UnauthorizedError(failure)
        return issued

    async def deny(self, *session_ids: uuid.UUID) -> None:
        """Access tokens of revoked sessions are refused until they would have expired anyway.
        Call it after the transaction that revoked them has committed."""
        if not session_ids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:  # one round trip for all
            for session_id in session_ids:
                pipe.set(
                    revoked_session_key(self.keys, str(session_id)), "1", ex=self.access_ttl + 60
                )
            await pipe.execute()

    async def revoke(
        self, user_id: uuid.UUID, session_id: uuid.UUID, reason: str, ip: str | None = None
    ) -> bool:
        async with transaction(self.database) as db:
            session = await db.get(Session, session_id)
            if session is None or session.user_id != user_id:
                return False
            revoked = await SessionRepository(db).revoke(session_id, reason)
            await AuditRepository(db).record(
                "session.revoked", user_id=user_id, session_id=session_id, ip=ip, reason=reason
            )
        await self.deny(session_id)
        return revoked

    async def revoke_all(
        self,
        user_id: uuid.UUID,
        reason: str,
        *,
        keep: uuid.UUID | None = None,
        ip: str | None = None,
    ) -> int:
        async with transaction(self.database) as db:
            revoked = await self.revoke_all_in(db, user_id, reason, keep=keep, ip=ip)
        await self.deny(*revoked)
        return len(revoked)

    async def revoke_all_in(
        self,
        db: DbSession,
        user_id: uuid.UUID,
        reason: str,
        *,
        keep: uuid.UUID | None = None,
        ip: str | None = None,
    ) -> list[uuid.UUID]:
        """Revoke the user's sessions (all but ``keep``) in the caller's transaction, so they end
        together with the change that requires it; pass the result to ``deny`` after commit."""
        revoked = await SessionRepository(db).revoke_all(user_id, reason, keep=keep)
        detail: dict[str, Any] = {"reason": reason, "count": len(revoked)}
        if keep is not None:
            detail["kept"] = str(keep)
        await AuditRepository(db).record("session.revoked_all", user_id=user_id, ip=ip, **detail)
        return revoked

    async def list(self, user_id: uuid.UUID) -> list[Session]:
        async with transaction(self.database) as db:
            return await SessionRepository(db).active_for_user(user_id, now())
