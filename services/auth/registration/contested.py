"""Contested sign-ups: more than one sign-up run for one address within the verification window.

Every sign-up is its own run with its own link, so a victim who signed up after an attacker
(who signed up ``victim@`` with the attacker's password) finds two confirmation mails; clicking
the attacker's would create the account with the attacker's password. So while an address is
contested, redeeming a link also needs the password typed at *that* sign-up: whoever clicks must
know it. An uncontested sign-up (the normal case) verifies with the link alone.

- The mail step (``auth.send_registration_mail``) records its run, before it mails anything, in
  a sorted set ``auth:signups:<address digest>`` of workflow ids scored by the time (``ZADD NX``:
  a retried step records nothing new), trimmed to and expiring after the verification window
  (``ADX_AUTH_VERIFICATION_HOURS``). Only the digest is in the key, never the address.
- ``POST /auth/verify-email`` reads it before sending the verify update: another run recorded
  within the window makes the link's run contested. It then checks the link (a read-only
  workflow query answers the run's id and password hash only for its own link's SHA-256, and the
  link's MAC is checked against that run id), and, unless the address already has a verified
  account (the update then answers 409 as before), requires the password: missing is
  ``PASSWORD_REQUIRED``, wrong is ``PASSWORD_MISMATCH`` (no account, the run keeps waiting, its
  link stays usable by its own registrant). Wrong passwords count on the login throttle, keyed
  on the run (and the client), so the step is no guessing oracle. argon2 runs in the hashing
  pool; the password never enters a workflow payload (only the link's hash does, as before).
"""

from __future__ import annotations

import hashlib
import time

from redis.asyncio import Redis

from services.auth.one_time_tokens import InvalidLinkError
from services.auth.opaque import hash_token
from services.auth.passwords import verify_password
from services.auth.registration.links import mailed_by_this_run
from services.auth.runtime import AuthRuntime
from services.common import workflow_calls
from services.common.errors import DomainError
from storage.auth.repository import CredentialRepository
from storage.db import transaction
from storage.redis import RedisKeys
from workflows.auth.user_registration import RUN_ID_PREFIX, SIGN_UP_SECRET_QUERY, SignUpSecret

PASSWORD_REQUIRED = "PASSWORD_REQUIRED"  # noqa: S105 (an error code)
PASSWORD_MISMATCH = "PASSWORD_MISMATCH"  # noqa: S105 (an error code)


class PasswordRequiredError(DomainError):
    status = 400
    type = "https://adx.dev/problems/password-required"
    title = "Password required"

    def __init__(self) -> None:
        super().__init__(
            "More than one sign-up was made with this address: enter the password you chose "
            "to confirm it.",
            extra={"code": PASSWORD_REQUIRED},
        )


class PasswordMismatchError(DomainError):
    status = 403
    type = "https://adx.dev/problems/password-mismatch"
    title = "Not your sign-up"

    def __init__(self) -> None:
        super().__init__(
            "This link belongs to a sign-up made with another password. Nothing was created: "
            "use the link in the mail of your own sign-up, or enter the password you chose.",
            extra={"code": PASSWORD_MISMATCH},
        )


def signups_key(keys: RedisKeys, digest: str) -> str:
    return keys("auth", "signups", digest)


def address_digest_of(workflow_id: str) -> str | None:
    """The address digest in a per-sign-up run's id (``user-registration-<digest>-<nonce>``)."""
    digest, _, nonce = workflow_id.removeprefix(RUN_ID_PREFIX).partition("-")
    if not workflow_id.startswith(RUN_ID_PREFIX) or len(digest) != 32 or len(nonce) != 32:
        return None
    return digest


async def record_sign_up(
    redis: Redis, keys: RedisKeys, digest: str, workflow_id: str, window_seconds: float
) -> None:
    """Record this run for its address (idempotent: a retry keeps the first score)."""
    now = time.time()
    key = signups_key(keys, digest)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(key, {workflow_id: now}, nx=True)
        pipe.zremrangebyscore(key, "-inf", now - window_seconds)
        pipe.expire(key, max(1, int(window_seconds + 0.999)))
        await pipe.execute()


async def is_contested(
    redis: Redis, keys: RedisKeys, digest: str, workflow_id: str, window_seconds: float
) -> bool:
    """Whether a sign-up other than ``workflow_id`` was recorded for the address in the window
    (so, with this one, at least two distinct runs)."""
    recent = await redis.zrangebyscore(
        signups_key(keys, digest), time.time() - window_seconds, "+inf", start=0, num=3
    )
    others = {m.decode() if isinstance(m, bytes) else str(m) for m in recent} - {workflow_id}
    return bool(others)


_QUERY_ERRORS = workflow_calls.WorkflowErrors(call="sign_up_secret", not_found=InvalidLinkError)


def _window(runtime: AuthRuntime) -> float:
    return runtime.settings.auth_verification_hours * 3600


async def sign_up_secret(runtime: AuthRuntime, workflow_id: str, raw_token: str) -> SignUpSecret:
    """The run's secret for its own, still redeemable link; any other answer is the one answer
    of an invalid link."""
    token_hash = hash_token(raw_token)
    secret = await workflow_calls.query(
        runtime.temporal,
        workflow_id,
        SIGN_UP_SECRET_QUERY,
        token_hash,
        result_type=SignUpSecret,
        errors=_QUERY_ERRORS,
    )
    if secret is None or not mailed_by_this_run(
        runtime.settings, workflow_id, secret.run_id, token_hash
    ):
        raise InvalidLinkError()
    return secret


async def _has_verified_account(runtime: AuthRuntime, email: str) -> bool:
    async with transaction(runtime.resources.database) as db:
        account = await CredentialRepository(db).get_by_email(email)
    return account is not None and account.email_verified


def _throttle_key(workflow_id: str) -> str:
    return "signup-verify:" + hashlib.sha256(workflow_id.encode()).hexdigest()


async def require_password_if_contested(
    runtime: AuthRuntime,
    workflow_id: str,
    raw_token: str,
    password: str | None,
    client_ip: str | None,
) -> None:
    """Before the verify update of a per-sign-up link: nothing for an uncontested address;
    else the link must be the run's own and, unless the address already has an account, the
    password must be the one typed at that sign-up."""
    digest = address_digest_of(workflow_id)
    if digest is None:
        return
    resources = runtime.resources
    if not await is_contested(
        resources.redis, resources.redis_keys, digest, workflow_id, _window(runtime)
    ):
        return
    secret = await sign_up_secret(runtime, workflow_id, raw_token)
    if await _has_verified_account(runtime, secret.email):
        return  # the update answers 409 and mails the notice, as for any taken address
    if password is None:
        raise PasswordRequiredError()
    key = _throttle_key(workflow_id)
    await runtime.throttle.check(key, client_ip)
    if not await verify_password(secret.password_hash, password):
        await runtime.throttle.failed(key, client_ip)
        raise PasswordMismatchError()
    await runtime.throttle.succeeded(key)
