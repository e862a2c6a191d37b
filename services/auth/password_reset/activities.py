"""Password reset activities (task queue ``<prefix>-auth``): find the account of an address and
mail it a reset link, once per key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from temporalio import activity

from services.auth.activity_base import (
    AuthActivityBase,
    normalize_email,
    user_uuid,
)
from services.auth.opaque import new_token
from services.auth.password_reset.mails import reset_mail
from services.common.security_context import (
    denied,
    require_context,
    require_flow,
    require_flow_step,
)
from storage.auth.models import Credential
from storage.auth.repository import CredentialRepository
from storage.db import transaction
from workflows.auth import contracts
from workflows.auth.contracts import (
    AuthError,
    AuthWorkflow,
    InvalidEmailError,
    TokenPurpose,
)
from workflows.common.errors import business_error


class PasswordResetActivities(AuthActivityBase):
    @contracts.FIND_ACCOUNT.implement
    async def find_account(self, input: contracts.FindAccountInput) -> contracts.FindAccountOutput:
        require_flow(require_context(), AuthWorkflow.PASSWORD_RESET)
        try:
            email = contracts.normalize_email(input.email)
        except InvalidEmailError:
            return contracts.FindAccountOutput(user_id=None)
        async with transaction(self.database) as session:
            credential = await CredentialRepository(session).get_by_email(email)
        return contracts.FindAccountOutput(user_id=str(credential.id) if credential else None)

    @contracts.MAIL_RESET_LINK.implement
    async def mail_reset_link(
        self, input: contracts.MailResetLinkInput
    ) -> contracts.MailResetLinkOutput:
        """Issue a reset token and mail its link in one step, once per key: the raw token
        exists only here and in the mail (the database keeps its SHA-256, the workflow nothing).

        The claim comes first, so a retry of a step whose mail went out neither issues a new
        token (which would break the mailed link) nor mails again. A crash between delivery
        and the "sent" marker mails once more, with a fresh token that replaces the first.
        """
        if not input.ttl_seconds > 0:
            raise business_error(AuthError.INVALID_INPUT, "non-positive token lifetime")
        require_flow_step(input.idempotency_key, AuthWorkflow.PASSWORD_RESET)
        user_id, to = user_uuid(input.user_id), normalize_email(input.to)
        async with transaction(self.database) as session:
            credential = await session.get(Credential, user_id)
        if credential is None:
            raise business_error(AuthError.UNKNOWN_ACCOUNT, "no such account")
        if credential.email != to:
            raise denied("a reset link goes only to its account's address")

        async def issue_and_mail() -> None:
            raw, digest = new_token()
            await self._store_token(
                user_id=user_id,
                purpose=TokenPurpose.password_reset,
                token_hash=digest,
                ttl_seconds=input.ttl_seconds,
                workflow_id=activity.info().workflow_id or "",
                idempotency_key=f"{input.idempotency_key}:token",
            )
            message = replace(
                reset_mail(self.runtime.settings, to, raw), dedup_key=input.idempotency_key
            )
            await self.mailer.send(message)

        sent = await self._once_per_key(input.idempotency_key, "sent:link", issue_and_mail)
        return contracts.MailResetLinkOutput(sent=sent is None)

    def all(self) -> list[Callable[..., Any]]:
        return [self.find_account, self.mail_reset_link]
