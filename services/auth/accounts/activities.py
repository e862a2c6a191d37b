"""Account-level auth activities (task queue ``<prefix>-auth``), shared by the flows: one-time
tokens, link mails, e-mail verification, passwords and sessions. Each write is idempotent."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from temporalio import activity

from services.auth.activity_base import (
    AuthActivityBase,
    normalize_email,
    user_uuid,
)
from services.auth.actor_checks import (
    created_by_this_run,
    require_account_actor,
    require_known_address,
    require_token_owner_address,
    token_belongs_to_this_run,
)
from services.auth.one_time_tokens import link_token_purpose
from services.auth.opaque import new_token
from services.auth.password_reset.mails import reset_mail
from services.auth.registration.mails import registration_attempt_mail, verification_mail
from services.common.mailer import EmailMessage
from services.common.sealing import SealError, sealer_for
from services.common.security_context import (
    ActorKind,
    denied,
    require_context,
    require_flow,
    require_run_scoped,
)
from services.common.settings import Settings
from storage.auth.audit import AuditRepository
from storage.auth.models import Credential
from storage.auth.one_time_tokens import OneTimeTokenRepository
from storage.auth.repository import CredentialRepository
from storage.auth.sso import SsoIdentityRepository
from storage.db import transaction
from workflows.auth import contracts
from workflows.auth.contracts import (
    AuthError,
    AuthWorkflow,
    MailTemplate,
    TokenPurpose,
)
from workflows.auth.user_registration import registration_workflow_id
from workflows.common.errors import business_error

#: Mails that carry a link, and the purpose of the token in it.
MAIL_TOKEN_PURPOSE: dict[str, str] = {
    MailTemplate.verify_email: TokenPurpose.verify_email,
    MailTemplate.password_reset: TokenPurpose.password_reset,
}

MailRenderer = Callable[[Settings, str, str | None], EmailMessage]
MAILS: dict[str, MailRenderer] = {
    MailTemplate.verify_email: verification_mail,
    MailTemplate.registration_attempt: registration_attempt_mail,
    MailTemplate.password_reset: reset_mail,
}
ARGON2ID_PREFIX = "$argon2id$"
#: Length of ``sessions.revoked_reason``.
MAX_REASON = 50


class AccountActivities(AuthActivityBase):
    @contracts.ISSUE_ONE_TIME_TOKEN.implement
    async def issue_one_time_token(
        self, input: contracts.IssueOneTimeTokenInput
    ) -> contracts.IssueOneTimeTokenOutput:
        if input.purpose not in set(TokenPurpose) or not input.ttl_seconds > 0:
            raise business_error(
                AuthError.INVALID_INPUT, "unknown token purpose or non-positive lifetime"
            )
        user_id = user_uuid(input.user_id)
        await self._require_token_issuer(input)
        raw, digest = new_token()
        await self._store_token(
            user_id=user_id,
            purpose=input.purpose,
            token_hash=digest,
            ttl_seconds=input.ttl_seconds,
            workflow_id=input.workflow_id,
            idempotency_key=input.idempotency_key,
        )
        # Sealed: the workflow only hands it on to send_email, which opens it for the mail.
        purpose = link_token_purpose(input.purpose, input.workflow_id)
        return contracts.IssueOneTimeTokenOutput(
            token=sealer_for(self.runtime.settings).seal(raw, purpose)
        )

    @contracts.CONSUME_ONE_TIME_TOKEN.implement
    async def consume_one_time_token(
        self, input: contracts.ConsumeOneTimeTokenInput
    ) -> contracts.ConsumeOneTimeTokenOutput:
        context = require_context()
        if context.actor != ActorKind.system and input.workflow_id != activity.info().workflow_id:
            raise denied("a workflow spends only its own tokens")
        async with transaction(self.database) as session:
            tokens = OneTimeTokenRepository(session)
            if context.actor != ActorKind.system and not await token_belongs_to_this_run(
                session, input.token_hash, input.purpose
            ):
                return contracts.ConsumeOneTimeTokenOutput(user_id=None)  # an earlier run's token
            user_id = await tokens.consume(input.token_hash, input.purpose, input.workflow_id)
            if user_id is not None:
                await AuditRepository(session).record(
                    "one_time_token.used", user_id=user_id, purpose=input.purpose
                )
            elif activity.info().attempt > 1:
                # Our previous attempt may have committed before its result was lost. Only this
                # workflow can spend its token, and it redeems one at a time (see the workflows).
                user_id = await tokens.spent_by(input.token_hash, input.purpose, input.workflow_id)
        return contracts.ConsumeOneTimeTokenOutput(user_id=str(user_id) if user_id else None)

    @contracts.SEND_EMAIL.implement
    async def send_email(self, input: contracts.SendEmailInput) -> contracts.SendEmailOutput:
        """Send one mail per key, **at least once**.

        A "sent" marker in Redis makes a retry of a delivered step a no-op, and a claim held for
        the attempt's timeout keeps two attempts from sending at the same moment. What cannot be
        closed is a crash after the server accepted the mail but before the marker is written:
        the claim then lapses and the retry sends a second copy (with the same Message-ID). We
        prefer that to the alternative (marking first), which could lose a verification or reset
        mail for good.
        """
        render = MAILS.get(input.template)
        if render is None:
            raise business_error(
                AuthError.INVALID_INPUT, f"unknown mail template {input.template!r}"
            )
        to = normalize_email(input.to)
        token = self._open_link_token(input)
        await self._require_mail_recipient(input.template, to, token)
        try:
            message = render(self.runtime.settings, to, token)
        except ValueError as error:
            raise business_error(AuthError.INVALID_INPUT, str(error)) from error
        message = replace(message, dedup_key=input.idempotency_key)
        sent = await self._once_per_key(
            input.idempotency_key, "sent", lambda: self.mailer.send(message)
        )
        return contracts.SendEmailOutput(sent=sent is None)

    @contracts.MARK_EMAIL_VERIFIED.implement
    async def mark_email_verified(
        self, input: contracts.MarkEmailVerifiedInput
    ) -> contracts.MarkEmailVerifiedOutput:
        user_id = user_uuid(input.user_id)
        await require_account_actor(self.database, input.user_id, proof=TokenPurpose.verify_email)
        async with transaction(self.database) as session:
            changed = await CredentialRepository(session).mark_email_verified(user_id)
            if changed:
                await AuditRepository(session).record("email.verified", user_id=user_id)
        return contracts.MarkEmailVerifiedOutput(changed=changed)

    @contracts.SET_PASSWORD.implement
    async def set_password(self, input: contracts.SetPasswordInput) -> contracts.SetPasswordOutput:
        """Store a new argon2id hash. A retry finds its own hash in place and changes nothing.

        A completed reset also proves control of the mailbox, so the address counts as verified
        (this also defeats an attacker who pre-registered the victim's address), and it clears
        the account's failed-login counter: the owner may sign in with the new password at once.
        """
        user_id = user_uuid(input.user_id)
        if not input.password_hash.startswith(ARGON2ID_PREFIX):
            raise business_error(AuthError.INVALID_INPUT, "only argon2id hashes are stored")
        await require_account_actor(self.database, input.user_id, proof=TokenPurpose.password_reset)
        async with transaction(self.database) as session:
            credential = await session.get(Credential, user_id, with_for_update=True)
            if credential is None:
                raise business_error(AuthError.UNKNOWN_ACCOUNT, "no such account")
            email = credential.email
            changed = credential.password_hash != input.password_hash
            repository = CredentialRepository(session)
            if changed:
                await repository.set_password_hash(user_id, input.password_hash)
                await AuditRepository(session).record(
                    "password.changed", user_id=user_id, reason=input.reason
                )
            if input.reason == "password_reset" and not credential.email_verified:
                await repository.mark_email_verified(user_id)
                # SSO links made while nobody had proved the mailbox may belong to whoever
                # squatted the address; the owner who just proved it must not share the account.
                unlinked = await SsoIdentityRepository(session).unlink_all(user_id)
                if unlinked:
                    await AuditRepository(session).record(
                        "sso.unlinked_on_reset", user_id=user_id, count=unlinked
                    )
        if input.reason == "password_reset":
            await self.runtime.throttle.succeeded(email)
        return contracts.SetPasswordOutput(changed=changed)

    @contracts.REVOKE_SESSIONS.implement
    async def revoke_sessions(
        self, input: contracts.RevokeSessionsInput
    ) -> contracts.RevokeSessionsOutput:
        """Every session of the user (but ``keep_session_id``), in the database and on the
        access-token deny-list. Idempotent by nature: a retry finds nothing left to revoke."""
        if not 1 <= len(input.reason) <= MAX_REASON:
            raise business_error(
                AuthError.INVALID_INPUT, f"reason must be 1-{MAX_REASON} characters"
            )
        await require_account_actor(self.database, input.user_id, proof=TokenPurpose.password_reset)
        try:
            keep = uuid.UUID(input.keep_session_id) if input.keep_session_id else None
        except ValueError as error:
            raise business_error(
                AuthError.INVALID_INPUT, "keep_session_id is not a UUID"
            ) from error
        count = await self.runtime.sessions.revoke_all(
            user_uuid(input.user_id), input.reason, keep=keep
        )
        return contracts.RevokeSessionsOutput(revoked=count)

    async def _require_token_issuer(self, input: contracts.IssueOneTimeTokenInput) -> None:
        """Tokens are issued by a run for itself, and only where a flow needs one: a reset link
        for any account (it is only ever mailed to that account), a verification link for the
        account the same run created."""
        context = require_context()
        if context.actor == ActorKind.system:
            return
        if input.workflow_id != activity.info().workflow_id:
            raise denied("a workflow issues tokens only for itself")
        require_run_scoped(context, input.idempotency_key)
        if context.acts_for(input.user_id):
            return
        if input.purpose == TokenPurpose.password_reset:
            require_flow(context, AuthWorkflow.PASSWORD_RESET)
        else:
            require_flow(context, AuthWorkflow.USER_REGISTRATION)
            if not await created_by_this_run(self.database, input.user_id):
                raise denied("a verification link only for the account this run created")

    def _open_link_token(self, input: contracts.SendEmailInput) -> str | None:
        """The raw link token for the mail body, opened only here and never returned. Runs
        started before sealing still carry raw tokens in their history, accepted as they are."""
        purpose = MAIL_TOKEN_PURPOSE.get(input.template)
        if input.token is None or purpose is None:
            return input.token
        bound = link_token_purpose(purpose, activity.info().workflow_id or "")
        try:
            return sealer_for(self.runtime.settings).unseal_or_raw(input.token, bound)
        except SealError as error:
            # Sealed for another run or another kind of link: not a token this run issued.
            raise denied("a link mail may only carry a token this run issued") from error

    async def _require_mail_recipient(self, template: str, to: str, token: str | None) -> None:
        """A link mail only to the account of a token this run issued; the notice of a second
        sign-up only to the owner of the address the registration run is for."""
        context = require_context()
        if context.actor == ActorKind.system:
            return
        purpose = MAIL_TOKEN_PURPOSE.get(template)
        if purpose is not None:
            await require_token_owner_address(self.database, token, purpose, to)
            return
        require_flow(context, AuthWorkflow.USER_REGISTRATION)
        if activity.info().workflow_id != registration_workflow_id(to):
            raise denied("a sign-up notice goes only to the address this registration is for")
        await require_known_address(self.database, to)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.issue_one_time_token,
            self.consume_one_time_token,
            self.send_email,
            self.mark_email_verified,
            self.set_password,
            self.revoke_sessions,
        ]
