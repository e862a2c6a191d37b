"""Registration activities (task queue ``<prefix>-auth``): the account of a sign-up, its mails,
and undoing an unverified account. Each write is idempotent on its key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from limits import RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter

from services.auth.activity_base import (
    AuthActivityBase,
    normalize_email,
    this_run,
    user_uuid,
)
from services.auth.actor_checks import (
    require_created_by_this_run,
)
from services.auth.opaque import hash_token
from services.auth.passwords import hash_password, is_argon2id_hash
from services.auth.registration.contested import record_sign_up
from services.auth.registration.links import link_keys, link_token, mailed_by_this_run
from services.auth.registration.mails import registration_attempt_mail, verification_mail
from services.auth.runtime import AuthRuntime
from services.common.mailer import Mailer
from services.common.security_context import (
    ActorKind,
    denied,
    require_context,
    require_flow_step,
)
from storage.auth.audit import AuditRepository
from storage.auth.repository import CredentialRepository
from storage.db import transaction
from storage.rate_windows import moving_windows
from workflows.auth import contracts
from workflows.auth.contracts import (
    AuthError,
    AuthWorkflow,
    address_digest,
)
from workflows.auth.password_policy import PasswordPolicyError, check_policy
from workflows.auth.user_registration import is_registration_for
from workflows.common.errors import business_error


class RegistrationActivities(AuthActivityBase):
    def __init__(self, runtime: AuthRuntime, mailer: Mailer | None = None) -> None:
        super().__init__(runtime, mailer)
        self._signup_limiter: MovingWindowRateLimiter | None = None

    @contracts.CREATE_CREDENTIALS.implement
    async def create_credentials(
        self, input: contracts.CreateCredentialsInput
    ) -> contracts.CreateCredentialsOutput:
        """Per-sign-up runs (``password_hash``): a verified account, only for the address the
        run was started for and only with the proof that its mailed link was redeemed. Runs from
        before that patch (``password``): an unverified account, hashed here. Neither value is
        ever logged or put in an error."""
        context = require_flow_step(input.idempotency_key, AuthWorkflow.USER_REGISTRATION)
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
        async with transaction(self.database) as session:
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
        workflow_id, run_id = this_run()
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
        require_flow_step(input.idempotency_key, AuthWorkflow.USER_REGISTRATION)
        to = normalize_email(input.email)
        workflow_id, run_id = this_run()
        if not is_registration_for(workflow_id, to):
            raise denied("a registration run mails only the address it was started for")
        if not input.notice_only:
            # Before any mail: whoever holds a link of this address then sees this sign-up
            # (a second one makes the address contested: its links need their password).
            resources = self.runtime.resources
            await record_sign_up(
                resources.redis,
                resources.redis_keys,
                address_digest(to),
                workflow_id,
                self.runtime.settings.auth_verification_hours * 3600,
            )
        if not await self._signup_mail_has_room(to, input.idempotency_key):
            # Sign-ups no longer join each other, so this caps the mails one address gets; the
            # sign-up was answered long ago, and its run just waits out its deadline.
            return contracts.SendRegistrationMailOutput(token_hash=None)
        async with transaction(self.database) as session:
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
            self._signup_limiter = moving_windows(
                resources.redis, resources.redis_keys("auth", "limits")
            )
        return await self._signup_limiter.hit(limit, "signup-address", address_digest(to))

    @contracts.DELETE_CREDENTIALS.implement
    async def delete_credentials(
        self, input: contracts.DeleteCredentialsInput
    ) -> contracts.DeleteCredentialsOutput:
        """Removes the credentials only while unverified: a verified account is never undone."""
        user_id = user_uuid(input.user_id)
        await require_created_by_this_run(self.database, require_context(), input.user_id)
        async with transaction(self.database) as session:
            deleted = await CredentialRepository(session).delete_unverified(user_id)
            if deleted:
                await AuditRepository(session).record(
                    "credentials.deleted_unverified", user_id=user_id
                )
        return contracts.DeleteCredentialsOutput(deleted=deleted)

    def all(self) -> list[Callable[..., Any]]:
        return [self.create_credentials, self.send_registration_mail, self.delete_credentials]
