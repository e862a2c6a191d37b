"""``sso_authentication``: an OpenID Connect sign-in after the provider redirected back.

Exchange the code (PKCE) and validate the ID token; link the (issuer, subject) identity to an
account, creating one (with a profile in the user service, undone if that fails) when none
exists; then open a session. The HTTP callback starts it with an id derived from ``state``.

No secret is readable in its payloads: the grant arrives sealed by the callback route and is
opened only by the code exchange; the session tokens leave the session step sealed and are
opened by the callback route (docs/auth.md, "Secrets never enter workflow payloads").
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.contracts import AuthError, AuthWorkflow
    from workflows.auth.sso_contracts import (
        CREATE_SSO_SESSION,
        DELETE_SSO_ACCOUNT,
        LINK_SSO_IDENTITY,
        SSO_EXCHANGE_CODE,
        CreateSsoSessionInput,
        CreateSsoSessionOutput,
        DeleteSsoAccountInput,
        LinkSsoIdentityInput,
        LinkSsoIdentityOutput,
        SsoExchangeInput,
        SsoExchangeOutput,
    )
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.user.contracts import CREATE_PROFILE, CreateProfileInput

T = TypeVar("T")

#: Failures the caller is told about as they are; anything else becomes ``SsoFailed``.
BUSINESS_FAILURES = frozenset(
    {
        AuthError.SSO_REJECTED,
        AuthError.SSO_ACCOUNT_EXISTS,
        AuthError.SSO_EMAIL_MISSING,
        AuthError.SSO_MISCONFIGURED,
        AuthError.INVALID_INPUT,
    }
)


@dataclass
class SsoAuthenticationInput:
    provider: str
    #: In clear only in runs started before sealing; the callback route now sends ``grant``.
    code: str = ""
    code_verifier: str = ""
    nonce: str = ""
    client_ip: str | None = None
    user_agent: str | None = None
    #: The authorization code, PKCE verifier and nonce, sealed for this run by the auth API.
    grant: str = ""


@dataclass
class SsoAuthenticationResult:
    user_id: str
    outcome: str
    session: CreateSsoSessionOutput = field(default_factory=CreateSsoSessionOutput)


def sso_workflow_id(state: str) -> str:
    """One workflow per authorization response; the id does not reveal the state."""
    return f"sso-authentication-{hashlib.sha256(state.encode()).hexdigest()[:32]}"


def display_name_for(name: str | None, email: str) -> str:
    """The provider's ``name`` (control characters dropped: PostgreSQL text refuses NUL), else
    the e-mail's local part."""
    printable = "".join(ch for ch in name or "" if ch.isprintable())
    return (printable.strip() or email.split("@", 1)[0])[:200]


@workflow.defn(name=AuthWorkflow.SSO_AUTHENTICATION)
class SsoAuthenticationWorkflow:
    def __init__(self) -> None:
        self._progress = ProgressTracker(total=4)

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.run
    async def run(self, input: SsoAuthenticationInput) -> SsoAuthenticationResult:
        info = workflow.info()
        key = f"{info.workflow_id}:{info.run_id}"

        self._progress.advance(0, "verifying the provider's answer")
        identity = await self._step(
            SSO_EXCHANGE_CODE.execute(
                SsoExchangeInput(
                    provider=input.provider,
                    code=input.code,
                    code_verifier=input.code_verifier,
                    nonce=input.nonce,
                    grant=input.grant,
                )
            ),
            "the provider's answer could not be verified",
        )

        self._progress.advance(1, "linking the identity")
        link = await self._step(
            LINK_SSO_IDENTITY.execute(
                LinkSsoIdentityInput(
                    issuer=identity.issuer,
                    subject=identity.subject,
                    email=identity.email,
                    email_verified=identity.email_verified,
                    link_verified_email=identity.link_verified_email,
                    new_user_id=str(workflow.uuid4()),
                    idempotency_key=f"{key}:identity",
                )
            ),
            "the identity could not be linked",
        )

        self._progress.advance(2, "creating profile")
        if link.outcome == "created":
            await self._create_profile(link, identity, key)

        self._progress.advance(3, "opening a session")
        session = await self._step(
            CREATE_SSO_SESSION.execute(
                CreateSsoSessionInput(
                    user_id=link.user_id,
                    client_ip=input.client_ip,
                    user_agent=input.user_agent,
                    idempotency_key=f"{key}:session",
                )
            ),
            "the session could not be opened",
        )

        self._progress.advance(4, "signed in", ProgressState.completed)
        return SsoAuthenticationResult(user_id=link.user_id, outcome=link.outcome, session=session)

    async def _step(self, call: Awaitable[T], failure: str) -> T:
        """Await one activity; a failure fails the workflow with a business type."""
        try:
            return await call
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, failure)
            raise _as_business_failure(error, failure) from error

    async def _create_profile(
        self, link: LinkSsoIdentityOutput, identity: SsoExchangeOutput, key: str
    ) -> None:
        try:
            await CREATE_PROFILE.execute(
                CreateProfileInput(
                    user_id=link.user_id,
                    email=link.email,
                    display_name=display_name_for(identity.name, link.email),
                    idempotency_key=f"{key}:profile",
                )
            )
        except ActivityError as error:
            # Saga: the account this run created goes again, so a retry starts from scratch.
            self._progress.set_state(ProgressState.compensating, "removing the new account")
            await DELETE_SSO_ACCOUNT.execute(
                DeleteSsoAccountInput(user_id=link.user_id, account_key=f"{key}:identity")
            )
            self._progress.set_state(ProgressState.failed, "profile could not be created")
            raise ApplicationError(
                "the account could not be set up and was rolled back; try again",
                type=AuthError.SSO_FAILED,
                non_retryable=True,
            ) from error


def _as_business_failure(error: ActivityError, fallback: str) -> ApplicationError:
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type in BUSINESS_FAILURES:
        return ApplicationError(cause.message, type=cause.type, non_retryable=True)
    return ApplicationError(fallback, type=AuthError.SSO_FAILED, non_retryable=True)
