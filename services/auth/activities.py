"""Auth activities (task queue ``<prefix>-auth``); each write is idempotent on its key."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from limits import RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.auth.actor_checks import (
    created_by_this_run,
    require_account_actor,
    require_created_by_this_run,
    require_known_address,
    require_token_owner_address,
    token_belongs_to_this_run,
)
from services.auth.one_time_tokens import link_token_purpose
from services.auth.opaque import hash_token, new_token
from services.auth.password_reset.mails import reset_mail
from services.auth.passwords import hash_password, is_argon2id_hash
from services.auth.registration.contested import record_sign_up
from services.auth.registration.links import link_keys, link_token, mailed_by_this_run
from services.auth.registration.mails import registration_attempt_mail, verification_mail
from services.auth.runtime import AuthRuntime
from services.common.mailer import EmailMessage, Mailer, mailer_from_settings
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
from storage.rate_windows import moving_windows
from workflows.auth import contracts
from workflows.auth.contracts import (
    AuthError,
    AuthWorkflow,
    InvalidEmailError,
    MailTemplate,
    TokenPurpose,
    address_digest,
)
from workflows.auth.password_policy import PasswordPolicyError, check_policy
from workflows.auth.user_registration import is_registration_for, registration_workflow_id
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
#: How long "this mail step was sent" is remembered: far beyond any retry of the step.
MAIL_SENT_MARKER_SECONDS = 7 * 24 * 3600
MAIL_CLAIM_DEFAULT = timedelta(seconds=60)
ARGON2ID_PREFIX = "$argon2id$"
#: Length of ``sessions.revoked_reason``.
MAX_REASON = 50


def user_uuid(raw: str) -> uuid.UUID:
    """A malformed id is the caller's bug: fail for good instead of retrying ten times."""
    try:
        return uuid.UUID(raw)
    except ValueError as error:
        raise business_error(AuthError.INVALID_INPUT, f"invalid user id: {raw!r}") from error


def _this_run() -> tuple[str, str]:
    """The workflow id and run id of the running activity's workflow (from the server)."""
    info = activity.info()
    return info.workflow_id or "", info.workflow_run_id or ""


def normalize_email(raw: str) -> str:
    try:
        return contracts.normalize_email(raw)
    except InvalidEmailError as error:
        raise business_error(AuthError.INVALID_INPUT, str(error)) from error


class AuthActivities:
    def __init__(self, runtime: AuthRuntime, mailer: Mailer | None = None) -> None:
        self.runtime = runtime
        self.sessions = runtime.resources.sessions
        self.mailer = mailer or mailer_from_settings(runtime.settings)
        self._signup_limiter: MovingWindowRateLimiter | None = None

    @contracts.CREATE_CREDENTIALS.implement
    async def create_credentials(
        self, input: contracts.CreateCredentialsInput
    ) -> contracts.CreateCredentialsOutput:
        """Per-sign-up runs (``password_hash``): a verified account, only for the address the
        run was started for and only with the proof that its mailed link was redeemed. Runs from
        before that patch (``password``): an unverified account, hashed here. Neither value is
        ever logged or put in an error."""
        context = require_context()
        require_flow(context, AuthWorkflow.USER_REGISTRATION)
        require_run_scoped(context, input.idempotency_key)
        email = normalize_email(input.email)
        verified = False
        if input.password_hash is not None:
            if input.password is not None:
                raise business_error(
                    AuthError.INVALID_INPUT, "a password hash or a password, not both"
                )
            if not is_argon2id_hash(input.password_hash):
                raise business_error(
                    AuthError.INVALID_INPUT,
                    "only argon2id hashes at the configured parameters are stored",
                )
            if context.actor != ActorKind.system:
                self._require_redeemed_link(email, input.verification_token_hash)
            password_hash = input.password_hash
            verified = input.verification_token_hash is not None
        elif input.password is not None:
            try:
                check_policy(input.password)
            except PasswordPolicyError as error:
                raise business_error(AuthError.INVALID_INPUT, str(error)) from error
            password_hash = await hash_password(input.password)
        else:
            raise business_error(AuthError.INVALID_INPUT, "a password hash is required")
        user_id = user_uuid(input.user_id)
        async with transaction(self.sessions) as session:
            repository = CredentialRepository(session)
            outcome = await repository.create(
                id_=user_id,
                email=email,
                password_hash=password_hash,
                idempotency_key=input.idempotency_key,
            )
            # Created and verified in one transaction: there is never an unverified account
            # of a per-sign-up run for another sign-up to trip over.
            if verified and not outcome.conflict and await repository.mark_email_verified(user_id):
                await AuditRepository(session).record("email.verified", user_id=user_id)
        if outcome.conflict:
            raise business_error(AuthError.EMAIL_TAKEN, "this e-mail address is already registered")
        return contracts.CreateCredentialsOutput(user_id=input.user_id, created=outcome.created)

    def _require_redeemed_link(self, email: str, token_hash: str | None) -> None:
        """This run is a registration for ``email`` and ``token_hash`` is the link mailed for
        this very run: the workflow compared it before asking, this checks the workflow."""
        workflow_id, run_id = _this_run()
        if not is_registration_for(workflow_id, email):
            raise denied("credentials only for the address this registration run is for")
        if token_hash is None or not mailed_by_this_run(
            self.runtime.settings, workflow_id, run_id, token_hash
        ):
            raise denied("an account is created only after this run's own link was redeemed")

    @contracts.SEND_REGISTRATION_MAIL.implement
    async def send_registration_mail(
        self, input: contracts.SendRegistrationMailInput
    ) -> contracts.SendRegistrationMailOutput:
        """The mail a per-sign-up run owes its address, once per key: the verification link
        while the address has no verified account, else the notice to its owner. The link token
        is made here (``services/auth/registration/links.py``) and leaves only in the mail; the
        workflow gets its SHA-256."""
        context = require_context()
        require_flow(context, AuthWorkflow.USER_REGISTRATION)
        require_run_scoped(context, input.idempotency_key)
        to = normalize_email(input.email)
        workflow_id, run_id = _this_run()
        if not is_registration_for(workflow_id, to):
            raise denied("a registration run mails only the address it was started for")
        if not input.notice_only:
            # Before any mail: whoever holds a link of this address then sees this sign-up
            # (a second one makes the address contested: its links need their password).
            resources = self.runtime.resources
            await record_sign_up(
                resources.redis,
                resources.keys,
                address_digest(to),
                workflow_id,
                self.runtime.settings.auth_verification_hours * 3600,
            )
        if not await self._signup_mail_has_room(to, input.idempotency_key):
            # Sign-ups no longer join each other, so this caps the mails one address gets; the
            # sign-up was answered long ago, and its run just waits out its deadline.
            return contracts.SendRegistrationMailOutput(token_hash=None)
        async with transaction(self.sessions) as session:
            account = await CredentialRepository(session).get_by_email(to)
        token_hash: str | None = None
        if account is not None and (account.email_verified or input.notice_only):
            message = registration_attempt_mail(self.runtime.settings, to, None)
        elif input.notice_only:
            return contracts.SendRegistrationMailOutput(token_hash=None)  # nobody to tell
        else:
            key = link_keys(self.runtime.settings)[0]
            token = link_token(key, workflow_id, run_id)
            message = verification_mail(self.runtime.settings, to, token)
            token_hash = hash_token(token)
        kind = "link" if token_hash else "notice"
        kind = await self._deliver_once(message, input.idempotency_key, kind)
        if kind == "notice":
            token_hash = None
        elif token_hash is None:  # an earlier attempt mailed the link: the same link
            key = link_keys(self.runtime.settings)[0]
            token_hash = hash_token(link_token(key, workflow_id, run_id))
        return contracts.SendRegistrationMailOutput(token_hash=token_hash)

    def _mail_key(self, idempotency_key: str) -> str:
        return self.runtime.resources.keys(
            "auth", "mail", hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
        )

    async def _signup_mail_has_room(self, to: str, idempotency_key: str) -> bool:
        """Count one sign-up mail for ``to`` (``ADX_AUTH_SIGNUP_MAILS_PER_ADDRESS`` per window);
        a retried step whose mail was already sent or claimed is not counted again."""
        resources = self.runtime.resources
        if await resources.redis.exists(self._mail_key(idempotency_key)):
            return True
        settings = self.runtime.settings
        limit = RateLimitItemPerSecond(
            settings.auth_signup_mails_per_address, settings.auth_reset_limit_window_seconds
        )
        if self._signup_limiter is None:
            self._signup_limiter = moving_windows(resources.redis, resources.keys("auth", "limits"))
        return await self._signup_limiter.hit(limit, "signup-address", address_digest(to))

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

    @contracts.DELETE_CREDENTIALS.implement
    async def delete_credentials(
        self, input: contracts.DeleteCredentialsInput
    ) -> contracts.DeleteCredentialsOutput:
        """Removes the credentials only while unverified: a verified account is never undone."""
        user_id = user_uuid(input.user_id)
        await require_created_by_this_run(self.sessions, require_context(), input.user_id)
        async with transaction(self.sessions) as session:
            deleted = await CredentialRepository(session).delete_unverified(user_id)
            if deleted:
                await AuditRepository(session).record(
                    "credentials.deleted_unverified", user_id=user_id
                )
        return contracts.DeleteCredentialsOutput(deleted=deleted)

    @contracts.FIND_ACCOUNT.implement
    async def find_account(self, input: contracts.FindAccountInput) -> contracts.FindAccountOutput:
        require_flow(require_context(), AuthWorkflow.PASSWORD_RESET)
        try:
            email = contracts.normalize_email(input.email)
        except InvalidEmailError:
            return contracts.FindAccountOutput(user_id=None)
        async with transaction(self.sessions) as session:
            credential = await CredentialRepository(session).get_by_email(email)
        return contracts.FindAccountOutput(user_id=str(credential.id) if credential else None)

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
        context = require_context()
        if context.actor != ActorKind.system:
            require_flow(context, AuthWorkflow.PASSWORD_RESET)
            require_run_scoped(context, input.idempotency_key)
        user_id, to = user_uuid(input.user_id), normalize_email(input.to)
        async with transaction(self.sessions) as session:
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
            async with transaction(self.sessions) as session:
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

    @contracts.CONSUME_ONE_TIME_TOKEN.implement
    async def consume_one_time_token(
        self, input: contracts.ConsumeOneTimeTokenInput
    ) -> contracts.ConsumeOneTimeTokenOutput:
        context = require_context()
        if context.actor != ActorKind.system and input.workflow_id != activity.info().workflow_id:
            raise denied("a workflow spends only its own tokens")
        async with transaction(self.sessions) as session:
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
        await require_account_actor(self.sessions, input.user_id, proof=TokenPurpose.verify_email)
        async with transaction(self.sessions) as session:
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
        await require_account_actor(self.sessions, input.user_id, proof=TokenPurpose.password_reset)
        async with transaction(self.sessions) as session:
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
        await require_account_actor(self.sessions, input.user_id, proof=TokenPurpose.password_reset)
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
            if not await created_by_this_run(self.sessions, input.user_id):
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
            await require_token_owner_address(self.sessions, token, purpose, to)
            return
        require_flow(context, AuthWorkflow.USER_REGISTRATION)
        if activity.info().workflow_id != registration_workflow_id(to):
            raise denied("a sign-up notice goes only to the address this registration is for")
        await require_known_address(self.sessions, to)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.create_credentials,
            self.send_registration_mail,
            self.delete_credentials,
            self.find_account,
            self.issue_one_time_token,
            self.mail_reset_link,
            self.consume_one_time_token,
            self.send_email,
            self.mark_email_verified,
            self.set_password,
            self.revoke_sessions,
        ]
