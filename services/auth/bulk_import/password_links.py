"""``auth.bulk_mail_password_links`` (``bulk_password_links``): each new account of a bulk import
batch gets the reset link that sets its first password, as ``auth.mail_reset_link`` mails one
person's: the token made and mailed here only (the database keeps its SHA-256, bound to the
calling run, which redeems it), the mail ``services/auth/password_reset/mails.py``'s.

Only accounts the batch created (its row keys) that still have no password get a link, and only
at their own address. Once per person and key: a Redis claim and "sent" marker per mail (the key
space of ``_once_per_key``), the tokens of a chunk stored in one statement, 50 mails at once. A
retry mails nobody marked sent; a crash between a mail and its marker mails that person once
more with a fresh token (the first link then no longer opens), as the single path does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.auth.activity_base import (
    MAIL_CLAIM_DEFAULT,
    MAIL_SENT_MARKER_SECONDS,
    AuthActivityBase,
    user_uuid,
)
from services.auth.opaque import new_token
from services.auth.password_reset.mails import reset_mail
from services.common.security_context import denied, require_flow_step
from storage.auth.audit import AuditRepository
from storage.auth.bulk_accounts import issue_tokens_many, new_accounts_of
from storage.db import transaction
from workflows.auth import bulk_import_contracts as contracts
from workflows.auth.contracts import AuthError, TokenPurpose
from workflows.common.errors import business_error

#: Mails sent at once (an SMTP server's round trips overlap).
MAIL_CHUNK = 50
SENT = "sent:link"
#: Only a bulk import's batch keys name accounts a link may go to.
BULK_KEY_PREFIX = "bulk-user-operation-"


class BulkPasswordLinkActivities(AuthActivityBase):
    @contracts.MAIL_PASSWORD_LINKS.implement
    async def bulk_mail_password_links(
        self, input: contracts.MailPasswordLinksInput
    ) -> contracts.MailPasswordLinksOutput:
        require_flow_step(input.idempotency_key, contracts.BULK_PASSWORD_LINKS)
        if not input.ttl_seconds > 0:
            raise business_error(AuthError.INVALID_INPUT, "non-positive token lifetime")
        if len(input.user_ids) > contracts.MAX_ACCOUNT_ROWS:
            raise business_error(
                AuthError.INVALID_INPUT, f"at most {contracts.MAX_ACCOUNT_ROWS} rows a batch"
            )
        if not input.accounts_key.startswith(BULK_KEY_PREFIX):
            raise denied("set-password links go only to accounts a bulk import created")
        ids = [user_uuid(raw) for raw in input.user_ids]
        async with transaction(self.database) as db:
            addresses = await new_accounts_of(db, ids, input.accounts_key)
        people = [(user_id, addresses[user_id]) for user_id in ids if user_id in addresses]
        mailed = 0
        for start in range(0, len(people), MAIL_CHUNK):
            mailed += await self._mail_chunk(people[start : start + MAIL_CHUNK], input)
        return contracts.MailPasswordLinksOutput(mailed=mailed)

    async def _mail_chunk(
        self, people: list[tuple[uuid.UUID, str]], input: contracts.MailPasswordLinksInput
    ) -> int:
        redis = self.runtime.resources.redis
        claim = activity.info().start_to_close_timeout or MAIL_CLAIM_DEFAULT
        keys = {user_id: f"{input.idempotency_key}:{user_id}" for user_id, _ in people}
        claims = redis.pipeline(transaction=False)
        for user_id, _ in people:
            claims.set(self._mail_key(keys[user_id]), "sending", nx=True, ex=claim)
        claimed = await claims.execute()
        todo = [person for person, won in zip(people, claimed, strict=True) if won]
        if len(todo) < len(people):
            held = [u for (u, _), won in zip(people, claimed, strict=True) if not won]
            values = await redis.mget([self._mail_key(keys[u]) for u in held])
            if any(not _is_sent(v) for v in values):
                await self._release([keys[u] for u, _ in todo])
                # Retryable: another attempt holds some of the claims.
                raise ApplicationError(
                    "these mails are being sent by another attempt", type=AuthError.MAIL_IN_FLIGHT
                )
        raw: dict[uuid.UUID, str] = {}
        tokens = []
        for user_id, _ in todo:
            raw[user_id], digest = new_token()
            tokens.append((user_id, digest, f"{keys[user_id]}:token"))
        async with transaction(self.database) as db:
            issued = await issue_tokens_many(
                db,
                tokens,
                purpose=TokenPurpose.password_reset,
                ttl=timedelta(seconds=input.ttl_seconds),
                workflow_id=activity.info().workflow_id or "",
            )
            audit = AuditRepository(db)
            for user_id, _, key in tokens:
                if key in issued:
                    await audit.record(
                        "one_time_token.issued",
                        user_id=user_id,
                        purpose=TokenPurpose.password_reset,
                        source="bulk_import",
                    )
        # A key whose token was spent already had its link used: nothing to mail.
        send = [(u, to) for u, to in todo if f"{keys[u]}:token" in issued]

        async def deliver(user_id: uuid.UUID, to: str) -> bool:
            message = replace(
                reset_mail(self.runtime.settings, to, raw[user_id]), dedup_key=keys[user_id]
            )
            try:
                await self.mailer.send(message)
            except Exception:  # a refused mail: the step retries those not marked sent
                return False
            return True

        delivered = await asyncio.gather(*(deliver(u, to) for u, to in send))
        failed = [keys[u] for (u, _), ok in zip(send, delivered, strict=True) if not ok]
        markers = redis.pipeline(transaction=False)
        for user_id, _ in todo:  # sent now, or spent (the link was mailed and used)
            if keys[user_id] not in failed:
                markers.set(self._mail_key(keys[user_id]), SENT, ex=MAIL_SENT_MARKER_SECONDS)
        await markers.execute()
        if failed:
            await self._release(failed)
            raise ApplicationError(f"{len(failed)} set-password mails could not be sent")
        return len(people)

    async def _release(self, keys: list[str]) -> None:
        if keys:
            await self.runtime.resources.redis.delete(*(self._mail_key(k) for k in keys))

    def all(self) -> list[Callable[..., Any]]:
        return [self.bulk_mail_password_links]


def _is_sent(value: object) -> bool:
    if isinstance(value, bytes):
        value = value.decode()
    return isinstance(value, str) and value.startswith("sent")
