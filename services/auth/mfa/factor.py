"""The second factor: the partial (MFA) token from login, and checking a TOTP or recovery code.

Shared by ``/auth/mfa/verify`` (completing a login) and ``/auth/mfa/disable``. Wrong codes are
throttled per user and per client with the login throttle's growing delays, so six digits
cannot be brute-forced.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from services.auth.mfa.recovery import hash_recovery_code
from services.auth.mfa.totp import matching_step
from services.auth.runtime import AuthRuntime
from services.auth.sessions import ClientInfo
from services.auth.token_issuer import MFA_TOKEN_TYPE
from services.common.errors import UnauthorizedError
from services.common.tokens import InvalidTokenError
from storage.auth.audit import AuditRepository
from storage.auth.mfa import RecoveryCodeRepository, TotpSecretRepository
from storage.db import DbSession, transaction

INVALID_CODE_MESSAGE = "invalid or already used code"
OTP = "otp"
RECOVERY = "recovery"


@dataclass(frozen=True)
class MfaTicket:
    """What a verified partial token says: who passed the password step, for which tenant."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID | None
    token_id: str
    expires_at: int
    first_factor: tuple[str, ...] = ("pwd",)


def _uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


async def read_mfa_token(runtime: AuthRuntime, token: str) -> MfaTicket:
    """Only a partial token passes: an access token has another audience and type."""
    if not token.isascii():  # PyJWT would fail encoding it, outside its own error type
        raise UnauthorizedError("invalid MFA token: malformed token")
    try:
        claims = await runtime.verifier.decode(token, audience=runtime.issuer.mfa_audience)
    except InvalidTokenError as error:
        raise UnauthorizedError(f"invalid MFA token: {error}") from error
    if claims.get("typ") != MFA_TOKEN_TYPE or not isinstance(claims.get("jti"), str):
        raise UnauthorizedError("invalid MFA token: not a partial login token")
    try:
        tenant = claims.get("tid")
        return MfaTicket(
            user_id=_uuid(claims["sub"]),
            tenant_id=_uuid(tenant) if tenant else None,
            token_id=claims["jti"],
            expires_at=int(claims["exp"]),
            first_factor=_first_factor(claims.get("amr")),
        )
    except (ValueError, TypeError) as error:
        raise UnauthorizedError("invalid MFA token: malformed claims") from error


def _first_factor(value: Any) -> tuple[str, ...]:
    """The methods the partial token vouches for (``pwd`` or ``sso``); older tokens: ``pwd``."""
    if isinstance(value, list) and value and all(m in ("pwd", "sso") for m in value):
        return tuple(value)
    return ("pwd",)


@asynccontextmanager
async def spending(runtime: AuthRuntime, ticket: MfaTicket) -> AsyncIterator[None]:
    """Use a partial token at most once: claimed up front (so two concurrent requests cannot
    both turn it into a session), released again if the attempt fails."""
    key = runtime.resources.redis_keys("auth", "mfa-token-used", ticket.token_id)
    ttl = max(ticket.expires_at - int(time.time()), 0) + 60
    if not await runtime.resources.redis.set(key, "1", nx=True, ex=ttl):
        raise UnauthorizedError("invalid MFA token: already used")
    try:
        yield
    except BaseException:
        await runtime.resources.redis.delete(key)
        raise


def _throttle_key(user_id: uuid.UUID) -> str:
    # Its own account counter: wrong codes do not lock the password step, and vice versa.
    return f"mfa:{user_id}"


async def _consume(
    db: DbSession, user_id: uuid.UUID, code: str | None, recovery_code: str | None
) -> tuple[str | None, str]:
    """``(method, reason)``: the factor spent, or None and why it failed."""
    if code is not None:
        secrets = TotpSecretRepository(db)
        row = await secrets.get_fresh(user_id)
        if row is None or row.confirmed_at is None:
            return None, "mfa_not_enabled"
        step = matching_step(row.secret, code)
        if step is None:
            return None, "wrong_code"
        if not await secrets.consume_step(user_id, step):
            return None, "replayed_code"
        return OTP, ""
    if recovery_code is not None:
        code_hash = hash_recovery_code(user_id, recovery_code)
        if await RecoveryCodeRepository(db).consume(user_id, code_hash):
            return RECOVERY, ""
        return None, "wrong_recovery_code"
    return None, "no_code"


async def check_second_factor(
    runtime: AuthRuntime,
    user_id: uuid.UUID,
    *,
    code: str | None,
    recovery_code: str | None,
    client: ClientInfo,
    purpose: str,
) -> str:
    """Spend a TOTP step or a recovery code of ``user_id``; returns the method (``otp`` or
    ``recovery``). 401 for a wrong or replayed code, 429 while throttled."""
    key = _throttle_key(user_id)
    await runtime.throttle.check(key, client.ip)
    async with transaction(runtime.resources.database) as db:
        method, reason = await _consume(db, user_id, code, recovery_code)
        audit = AuditRepository(db)
        if method is None:
            await audit.record(
                "mfa.verify_failed", user_id=user_id, ip=client.ip, reason=reason, purpose=purpose
            )
        else:
            await audit.record(
                "mfa.verify_succeeded",
                user_id=user_id,
                ip=client.ip,
                method=method,
                purpose=purpose,
            )
            if method == RECOVERY:
                left = await RecoveryCodeRepository(db).remaining(user_id)
                await audit.record(
                    "mfa.recovery_code_used", user_id=user_id, ip=client.ip, remaining=left
                )
    if method is None:
        await runtime.throttle.failed(key, client.ip)
        raise UnauthorizedError(INVALID_CODE_MESSAGE)
    await runtime.throttle.succeeded(key)
    return method
