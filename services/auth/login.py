"""Password login: throttled, indistinguishable for unknown e-mails, rehashing on the way, and
handing out only a partial token when MFA is on."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from services.auth.passwords import burn_verify_time, hash_password, needs_rehash, verify_password
from services.auth.runtime import AuthRuntime
from services.auth.sessions import ClientInfo, IssuedTokens
from services.common.errors import ForbiddenError, UnauthorizedError
from storage.auth.audit import AuditRepository
from storage.auth.claims import MemberClaims, member_claims
from storage.auth.repository import CredentialRepository, LoginCredential, login_credential
from storage.db import single_statements, transaction

INVALID_LOGIN = "invalid e-mail or password"


@dataclass(frozen=True)
class LoginOutcome:
    tokens: IssuedTokens | None = None
    mfa_token: str | None = None


def normalize_login_email(email: str) -> str:
    return email.strip().lower()


async def check_password(
    runtime: AuthRuntime, email: str, password: str, client: ClientInfo
) -> LoginCredential:
    """The credential for a correct e-mail + password; one answer for every other case.

    The success path is one Redis round trip and one SQL statement besides the verification
    (a failure also counts it and writes its audit row; a rehash stores the new hash)."""
    email = normalize_login_email(email)
    has_failures = await runtime.throttle.check(email, client.ip)
    async with single_statements(runtime.sessions.engine) as conn:
        credential = await login_credential(conn, email)
    if credential is None or credential.password_hash is None:
        await burn_verify_time(password)
        ok = False
    else:
        ok = await verify_password(credential.password_hash, password)
    if not ok or credential is None:
        await runtime.throttle.failed(email, client.ip)
        async with transaction(runtime.resources.database) as db:
            await AuditRepository(db).record(
                "login.failed", user_id=credential.id if credential else None, ip=client.ip
            )
        raise UnauthorizedError(INVALID_LOGIN)
    if has_failures:
        await runtime.throttle.succeeded(email)
    if needs_rehash(credential.password_hash or ""):
        new_hash = await hash_password(password)
        async with transaction(runtime.resources.database) as db:
            await CredentialRepository(db).set_password_hash(credential.id, new_hash, changed=False)
    return credential


NOT_A_MEMBER = "you are not a member of this tenant"


async def resolve_claims(
    runtime: AuthRuntime, user_id: uuid.UUID, tenant_id: uuid.UUID
) -> MemberClaims:
    """The user's roles and permissions in the tenant; 403 when they are not a member (the
    same answer for a tenant that does not exist)."""
    async with single_statements(runtime.sessions.engine) as conn:
        claims = await member_claims(conn, user_id, tenant_id)
    if claims is None:
        raise ForbiddenError(NOT_A_MEMBER)
    return claims


async def resolve_roles(
    runtime: AuthRuntime, user_id: uuid.UUID, tenant_id: uuid.UUID
) -> list[str]:
    """The user's roles in the tenant; 403 when they are not a member."""
    return (await resolve_claims(runtime, user_id, tenant_id)).roles


async def login(
    runtime: AuthRuntime,
    *,
    email: str,
    password: str,
    tenant_id: uuid.UUID | None,
    client: ClientInfo,
) -> LoginOutcome:
    credential = await check_password(runtime, email, password, client)
    if not credential.email_verified or credential.disabled:
        # Same answer as a wrong password: otherwise someone who signs up with an address and
        # logs in with their own password learns whether the address was already taken. A
        # deactivated account (``user_deactivation``) gets it too, so nobody learns that an
        # account is deactivated (its sessions were all revoked when it was).
        raise UnauthorizedError(INVALID_LOGIN)
    claims = MemberClaims()
    if tenant_id is not None:
        claims = await resolve_claims(runtime, credential.id, tenant_id)
    if credential.mfa_enabled:
        token = runtime.issuer.mfa_token(
            user_id=str(credential.id),
            tenant_id=str(tenant_id) if tenant_id else None,
            attempt=secrets.token_urlsafe(12),
        )
        return LoginOutcome(mfa_token=token)
    # The session, its refresh token and its audit row are one statement: no transaction needed.
    async with single_statements(runtime.sessions.engine) as conn:
        tokens = await runtime.sessions.start(
            conn,
            user_id=credential.id,
            tenant_id=tenant_id,
            auth_methods=["pwd"],
            client=client,
            claims=claims,
        )
    return LoginOutcome(tokens=tokens)
