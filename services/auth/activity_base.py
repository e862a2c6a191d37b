"""What every auth activity class shares: the process's runtime and mailer, "once per
idempotency key" for mails, and the storage of one-time tokens (each write idempotent on its
key). The classes are per capability: ``accounts/``, ``registration/``, ``password_reset/``."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.auth.runtime import AuthRuntime
from services.common.mailer import EmailMessage, Mailer, mailer_from_settings
from storage.auth.audit import AuditRepository
from storage.auth.one_time_tokens import OneTimeTokenRepository
from storage.db import IntegrityError, transaction
from workflows.auth import contracts
from workflows.auth.contracts import AuthError, InvalidEmailError
from workflows.common.errors import business_error

#: How long "this mail step was sent" is remembered: far beyond any retry of the step.
MAIL_SENT_MARKER_SECONDS = 7 * 24 * 3600
MAIL_CLAIM_DEFAULT = timedelta(seconds=60)


def user_uuid(raw: str) -> uuid.UUID:
    """A malformed id is the caller's bug: fail for good instead of retrying ten times."""
    try:
        return uuid.UUID(raw)
    except ValueError as error:
        raise business_error(AuthError.INVALID_INPUT, f"invalid user id: {raw!r}") from error


def this_run() -> tuple[str, str]:
    """The workflow id and run id of the running activity's workflow (from the server)."""
    info = activity.info()
    return info.workflow_id or "", info.workflow_run_id or ""


def normalize_email(raw: str) -> str:
    try:
        return contracts.normalize_email(raw)
    except InvalidEmailError as error:
        raise business_error(AuthError.INVALID_INPUT, str(error)) from error


class AuthActivityBase:
    def __init__(self, runtime: AuthRuntime, mailer: Mailer | None = None) -> None:
        self.runtime = runtime
        self.database = runtime.resources.database
        self.mailer = mailer or mailer_from_settings(runtime.settings)

    def _mail_key(self, idempotency_key: str) -> str:
        return self.runtime.resources.redis_keys(
            "auth", "mail", hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
        )

    async def _deliver_once(self, message: EmailMessage, idempotency_key: str, kind: str) -> str:
        """Send ``message`` once per key (the claim and "sent" marker of ``send_email``, in the
        same key space) and return the kind of mail the key was sent with."""
        message = replace(message, dedup_key=idempotency_key)
        sent = await self._once_per_key(
            idempotency_key, f"sent:{kind}", lambda: self.mailer.send(message)
        )
        return kind if sent is None else sent.partition(":")[2] or kind

    async def _once_per_key(
        self, idempotency_key: str, marker: str, deliver: Callable[[], Awaitable[None]]
    ) -> str | None:
        """Run ``deliver`` once per key (``send_email``, ``mail_reset_link`` and the sign-up
        mails share the key space): None once it ran here and left ``marker``, or the "sent"
        marker an earlier attempt left. A claim held for the attempt's timeout keeps two
        attempts from delivering at the same moment; a failed delivery drops it."""
        redis = self.runtime.resources.redis
        key = self._mail_key(idempotency_key)
        claim = activity.info().start_to_close_timeout or MAIL_CLAIM_DEFAULT
        if not await redis.set(key, "sending", nx=True, ex=claim):
            sent = await redis.get(key)
            if isinstance(sent, bytes):
                sent = sent.decode()
            if isinstance(sent, str) and sent.startswith("sent"):
                return sent
            # Retryable: another attempt holds the claim (or died holding it until it lapses).
            raise ApplicationError(
                "this mail is being sent by another attempt", type=AuthError.MAIL_IN_FLIGHT
            )
        try:
            await deliver()
        except BaseException:
            await redis.delete(key)
            raise
        await redis.set(key, marker, ex=MAIL_SENT_MARKER_SECONDS)
        return None

    async def _store_token(
        self,
        *,
        user_id: uuid.UUID,
        purpose: str,
        token_hash: str,
        ttl_seconds: float,
        workflow_id: str,
        idempotency_key: str,
    ) -> None:
        """Store a one-time token's hash (a retried step replaces its own unspent token)."""
        try:
            async with transaction(self.database) as session:
                issued = await OneTimeTokenRepository(session).issue(
                    user_id=user_id,
                    purpose=purpose,
                    token_hash=token_hash,
                    ttl=timedelta(seconds=ttl_seconds),
                    workflow_id=workflow_id,
                    idempotency_key=idempotency_key,
                )
                if issued:
                    await AuditRepository(session).record(
                        "one_time_token.issued", user_id=user_id, purpose=purpose
                    )
        except IntegrityError as error:  # the account vanished meanwhile (foreign key)
            raise business_error(AuthError.UNKNOWN_ACCOUNT, "no such account") from error
        if not issued:
            raise business_error(AuthError.INVALID_INPUT, "this step's token was spent already")
