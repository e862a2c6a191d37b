"""SSO activities (task queue ``<prefix>-auth``): code exchange, identity linking, its
compensation, and the session; each write is idempotent on its workflow-step key."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from temporalio import activity

from services.auth.actor_checks import require_sso_session_actor
from services.auth.runtime import AuthRuntime
from services.auth.sessions import ClientInfo
from services.auth.sso.config import SsoConfigError, SsoProvider, providers_of
from services.auth.sso.oidc import SsoRejected, client_for
from services.auth.sso.sealed import Grant, open_grant, seal_session
from services.common.security_context import (
    ActorKind,
    denied,
    require_context,
    require_flow,
    require_run_scoped,
    this_run_prefix,
)
from storage.auth.audit import AuditRepository
from storage.auth.models import Credential, SsoIdentity
from storage.auth.repository import CredentialRepository
from storage.auth.sessions import SessionRepository
from storage.auth.sso import SESSION_OPENED, SsoIdentityRepository
from storage.db import DbSession, transaction
from workflows.auth import sso_contracts
from workflows.auth.contracts import AuthError, AuthWorkflow
from workflows.common.errors import business_error

#: How long the identity a code exchange verified may be linked (far beyond the step's retries).
VERIFIED_IDENTITY_SECONDS = 24 * 3600
EXISTING_ACCOUNT = "an account with this e-mail address already exists"


def usable_email(raw: str | None) -> str | None:
    """The normalized address, or None when the provider sent none or a malformed one."""
    if not raw:
        return None
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def link_refusal(existing: Credential, input: sso_contracts.LinkSsoIdentityInput) -> str | None:
    """Why a first SSO sign-in may not join the existing account with its e-mail (None: it may).

    Linking hands the account to whoever controls the provider identity, so it needs the
    provider to vouch for the address, the provider's policy to allow it, and the account's own
    address to be verified (else whoever registered it unverified would share the account).
    """
    if not input.email_verified:
        return f"{EXISTING_ACCOUNT}; the provider did not verify the address, so it is not linked"
    if not input.link_verified_email:
        return (
            f"{EXISTING_ACCOUNT}; this provider may not be linked to it, sign in with your password"
        )
    if not existing.email_verified:
        return f"{EXISTING_ACCOUNT} but is not verified, so it cannot be linked"
    return None


def _identity_digest(
    identity: sso_contracts.SsoExchangeOutput | sso_contracts.LinkSsoIdentityInput,
) -> str:
    """What linking relies on from the ID token, as one value."""
    fields = [
        identity.issuer,
        identity.subject,
        identity.email,
        identity.email_verified,
        identity.link_verified_email,
    ]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


@dataclass(frozen=True)
class _Decision:
    output: sso_contracts.LinkSsoIdentityOutput | None = None
    refusal: tuple[str, str] | None = None  # (error type, message)


class SsoActivities:
    def __init__(self, runtime: AuthRuntime) -> None:
        self.runtime = runtime
        self.database = runtime.resources.database

    def _provider(self, name: str) -> SsoProvider:
        try:
            provider = providers_of(self.runtime.settings).get(name)
        except SsoConfigError as error:
            raise business_error(AuthError.SSO_MISCONFIGURED, str(error)) from error
        if provider is None:
            raise business_error(AuthError.SSO_MISCONFIGURED, f"no SSO provider named {name!r}")
        return provider

    async def _audit(self, event: str, user_id: uuid.UUID | None = None, **detail: Any) -> None:
        async with transaction(self.database) as db:
            await AuditRepository(db).record(event, user_id=user_id, **detail)

    @sso_contracts.SSO_EXCHANGE_CODE.implement
    async def exchange_code(
        self, input: sso_contracts.SsoExchangeInput
    ) -> sso_contracts.SsoExchangeOutput:
        """Redeem the code and validate the ID token (signature, iss, aud, exp, nonce). No write
        but the audit: a code works once at the provider anyway."""
        context = require_context()
        require_flow(context, AuthWorkflow.SSO_AUTHENTICATION)
        provider = self._provider(input.provider)
        grant = (
            open_grant(self.runtime.settings, activity.info().workflow_id or "", input.grant)
            if input.grant
            else Grant(input.code, input.code_verifier, input.nonce)  # a run from before sealing
        )
        try:
            identity = await client_for(provider).exchange(
                code=grant.code, code_verifier=grant.code_verifier, nonce=grant.nonce
            )
        except SsoRejected as error:
            await self._audit("sso.rejected", provider=provider.name, reason=str(error))
            raise business_error(AuthError.SSO_REJECTED, str(error)) from error
        except SsoConfigError as error:
            raise business_error(AuthError.SSO_MISCONFIGURED, str(error)) from error
        output = sso_contracts.SsoExchangeOutput(
            issuer=identity.issuer,
            subject=identity.subject,
            email=identity.email,
            email_verified=identity.email_verified,
            name=identity.name,
            link_verified_email=provider.link_verified_email,
        )
        # What this run's ID token proved; linking accepts nothing else (``_require_verified``).
        await self.runtime.resources.redis.set(
            self._run_key("verified"), _identity_digest(output), ex=VERIFIED_IDENTITY_SECONDS
        )
        return output

    def _run_key(self, what: str) -> str:
        """A Redis key of this workflow run: what its earlier steps established."""
        run = hashlib.sha256(this_run_prefix().encode()).hexdigest()[:40]
        return self.runtime.resources.redis_keys("auth", "sso", what, run)

    async def _require_verified(self, input: sso_contracts.LinkSsoIdentityInput) -> None:
        """Outside ``system``, link only the identity this run's own code exchange verified:
        a workflow cannot claim an (issuer, subject) or an e-mail the provider did not state."""
        context = require_context()
        if context.actor == ActorKind.system:
            return
        require_flow(context, AuthWorkflow.SSO_AUTHENTICATION)
        require_run_scoped(context, input.idempotency_key)
        if await self.runtime.resources.redis.get(self._run_key("verified")) != _identity_digest(
            input
        ):
            raise denied("only the identity this run's ID token proved may be linked")

    @sso_contracts.LINK_SSO_IDENTITY.implement
    async def link_sso_identity(
        self, input: sso_contracts.LinkSsoIdentityInput
    ) -> sso_contracts.LinkSsoIdentityOutput:
        """Find the account of (issuer, subject); else link it to the account with its e-mail
        when allowed, or create an account. A retry finds what its first attempt wrote."""
        await self._require_verified(input)
        async with transaction(self.database) as db:
            repo = SsoIdentityRepository(db)
            await repo.lock(input.issuer, input.subject)
            identity = await repo.find(input.issuer, input.subject)
            if identity is not None:
                decision = await self._known(db, identity, input)
            else:
                decision = await self._first_sign_in(db, repo, input)
        if decision.refusal is not None:
            kind, message = decision.refusal
            raise business_error(kind, message)
        assert decision.output is not None
        if require_context().actor != ActorKind.system:  # what the session step may open
            await self.runtime.resources.redis.set(
                self._run_key("linked"), decision.output.user_id, ex=VERIFIED_IDENTITY_SECONDS
            )
        return decision.output

    async def _require_session_actor(self, user_id: str) -> None:
        """Outside ``system`` and the user themself: only the account this run's sign-in linked
        (or created), and only one that signs in with SSO at all."""
        context = require_context()
        if context.acts_for(user_id):
            return
        require_flow(context, AuthWorkflow.SSO_AUTHENTICATION)
        if await self.runtime.resources.redis.get(self._run_key("linked")) != user_id:
            raise denied("a session only for the account this run's sign-in linked")
        await require_sso_session_actor(self.database, user_id)

    async def _known(
        self, db: DbSession, identity: SsoIdentity, input: sso_contracts.LinkSsoIdentityInput
    ) -> _Decision:
        credential = await db.get(Credential, identity.user_id)
        assert credential is not None  # identities cascade with their account
        # The account id was minted by this workflow run: this is a retry of the creating attempt.
        created = str(identity.user_id) == input.new_user_id
        if not created:
            await AuditRepository(db).record(
                "sso.signed_in", user_id=identity.user_id, issuer=input.issuer
            )
        return _Decision(
            sso_contracts.LinkSsoIdentityOutput(
                user_id=str(identity.user_id),
                outcome="created" if created else "returning",
                email=credential.email,
            )
        )

    async def _first_sign_in(
        self,
        db: DbSession,
        repo: SsoIdentityRepository,
        input: sso_contracts.LinkSsoIdentityInput,
    ) -> _Decision:
        audit = AuditRepository(db)
        email = usable_email(input.email)
        if email is None:
            await audit.record("sso.refused", issuer=input.issuer, reason="no e-mail")
            return _Decision(
                refusal=(
                    AuthError.SSO_EMAIL_MISSING,
                    "the provider did not share a usable e-mail address",
                )
            )
        existing = await CredentialRepository(db).get_by_email(email)
        if existing is not None:
            refusal = link_refusal(existing, input)
            if refusal is not None:
                await audit.record(
                    "sso.link_refused", user_id=existing.id, issuer=input.issuer, reason=refusal
                )
                return _Decision(refusal=(AuthError.SSO_ACCOUNT_EXISTS, refusal))
            await repo.link(
                issuer=input.issuer, subject=input.subject, user_id=existing.id, email=email
            )
            await audit.record("sso.identity_linked", user_id=existing.id, issuer=input.issuer)
            return _Decision(sso_contracts.LinkSsoIdentityOutput(str(existing.id), "linked", email))
        user_id = uuid.UUID(input.new_user_id)
        if not await repo.create_account(
            user_id=user_id,
            email=email,
            email_verified=input.email_verified,
            idempotency_key=input.idempotency_key,
        ):
            # Another sign-up took the address a moment ago.
            return _Decision(refusal=(AuthError.SSO_ACCOUNT_EXISTS, EXISTING_ACCOUNT))
        await repo.link(issuer=input.issuer, subject=input.subject, user_id=user_id, email=email)
        await audit.record(
            "sso.account_created",
            user_id=user_id,
            issuer=input.issuer,
            email_verified=input.email_verified,
        )
        return _Decision(sso_contracts.LinkSsoIdentityOutput(str(user_id), "created", email))

    @sso_contracts.DELETE_SSO_ACCOUNT.implement
    async def delete_sso_account(
        self, input: sso_contracts.DeleteSsoAccountInput
    ) -> sso_contracts.DeleteSsoAccountOutput:
        user_id = uuid.UUID(input.user_id)
        # Only the run that created the account (its key) may roll it back.
        require_run_scoped(require_context(), input.account_key)
        async with transaction(self.database) as db:
            deleted = await SsoIdentityRepository(db).delete_account(user_id, input.account_key)
            if deleted:
                await AuditRepository(db).record("sso.account_rolled_back", user_id=user_id)
        return sso_contracts.DeleteSsoAccountOutput(deleted=deleted)

    @sso_contracts.CREATE_SSO_SESSION.implement
    async def create_sso_session(
        self, input: sso_contracts.CreateSsoSessionInput
    ) -> sso_contracts.CreateSsoSessionOutput:
        """Open a session (``amr`` = sso); with MFA on, only a partial token for the second
        factor. A retried step revokes the session its earlier attempt opened, whose tokens
        were never delivered, so one step leaves at most one live session."""
        user_id = uuid.UUID(input.user_id)
        await self._require_session_actor(input.user_id)
        client = ClientInfo(ip=input.client_ip, user_agent=input.user_agent)
        async with transaction(self.database) as db:
            credential = await db.get(Credential, user_id)
            if credential is None:
                raise business_error(AuthError.SSO_FAILED, "the account no longer exists")
            if credential.disabled_at is not None:
                # Deactivated (``user_deactivation``): no sign-in by any method.
                raise business_error(AuthError.SSO_FAILED, "the sign-in was refused")
            if credential.mfa_enabled:
                # The same rule as password login: a second factor, whatever the first was.
                token = self.runtime.issuer.mfa_token(
                    user_id=str(user_id),
                    tenant_id=None,
                    attempt=secrets.token_urlsafe(12),
                    first_factor=("sso",),
                )
                return seal_session(
                    self.runtime.settings,
                    input.user_id,
                    sso_contracts.CreateSsoSessionOutput(mfa_token=token),
                )
            earlier = await SsoIdentityRepository(db).opened_session(user_id, input.idempotency_key)
            if earlier is not None:
                await SessionRepository(db).revoke(earlier, "sso_step_retried")
            tokens = await self.runtime.sessions.start(
                db, user_id=user_id, tenant_id=None, auth_methods=["sso"], client=client
            )
            await AuditRepository(db).record(
                SESSION_OPENED,
                user_id=user_id,
                session_id=uuid.UUID(tokens.session_id),
                ip=client.ip,
                idempotency_key=input.idempotency_key,
            )
        # Sealed: the workflow result carries them to the callback route, which opens them.
        return seal_session(
            self.runtime.settings,
            input.user_id,
            sso_contracts.CreateSsoSessionOutput(
                access_token=tokens.access_token,
                refresh_token=tokens.refresh_token,
                expires_in=tokens.expires_in,
                session_id=tokens.session_id,
            ),
        )

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.exchange_code,
            self.link_sso_identity,
            self.delete_sso_account,
            self.create_sso_session,
        ]
