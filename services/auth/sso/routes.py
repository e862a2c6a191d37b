"""SSO HTTP API: ``start`` sends the browser to the provider; ``callback`` checks the state and
runs the ``sso_authentication`` workflow, answering with its token pair."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Awaitable
from datetime import timedelta
from typing import Annotated, TypeVar
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError

from services.auth.dependencies import ClientDep, RuntimeDep
from services.auth.runtime import AuthRuntime
from services.auth.schemas import SsoProviderOut, SsoSignInResponse, TokenPair
from services.auth.sessions import IssuedTokens
from services.auth.sso.config import NAME_PATTERN, SsoConfigError, SsoProvider, providers_of
from services.auth.sso.oidc import OidcClient, client_for
from services.auth.sso.sealed import Grant, open_session, seal_grant
from services.auth.sso.state import STATE_TTL_SECONDS, PendingSignIn, SsoStateStore, digest
from services.common import workflow_calls
from services.common.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    ServiceUnavailableError,
)
from services.common.logging import get_logger
from services.common.openapi import problem_response
from services.common.sealing import SealError
from services.common.settings import ServiceName
from workflows.auth.contracts import AuthError
from workflows.auth.sso_authentication import (
    SsoAuthenticationInput,
    SsoAuthenticationResult,
    SsoAuthenticationWorkflow,
    sso_workflow_id,
)

T = TypeVar("T")
router = APIRouter(tags=["sso"])
_log = get_logger(__name__)

#: Binds a sign-in to the browser that started it (login CSRF: an attacker's callback URL
#: opened in a victim's browser must not sign the victim into the attacker's account).
BINDING_COOKIE = "adx_sso_binding"
_BINDING = re.compile(r"^[A-Za-z0-9_-]{43}$")
#: How long the callback waits for the workflow before answering 503.
RESULT_TIMEOUT_SECONDS = 60
WORKFLOW_TIMEOUT = timedelta(minutes=2)

ProviderName = Annotated[str, Path(pattern=NAME_PATTERN, description="Configured provider name.")]


class SsoStateError(DomainError):
    status = 400
    type = "https://adx.dev/problems/sso-state"
    title = "Invalid sign-in state"


class SsoRejectedError(DomainError):
    status = 401
    type = "https://adx.dev/problems/sso-rejected"
    title = "Sign-in rejected"


def _providers(runtime: AuthRuntime) -> dict[str, SsoProvider]:
    try:
        return providers_of(runtime.settings)
    except SsoConfigError as error:
        _log.error("sso_misconfigured", error=str(error))
        raise ServiceUnavailableError("single sign-on is not configured correctly") from error


def _provider(runtime: AuthRuntime, name: str) -> SsoProvider:
    provider = _providers(runtime).get(name)
    if provider is None:
        raise NotFoundError(f"no SSO provider named {name!r}")
    return provider


async def _reach(client: OidcClient, call: Awaitable[T]) -> T:
    """Run a call that talks to the provider; its failure is a 503, never a 500."""
    try:
        return await call
    except SsoConfigError as error:
        _log.error("sso_misconfigured", provider=client.provider.name, error=str(error))
        raise ServiceUnavailableError("single sign-on is not configured correctly") from error
    except (httpx.HTTPError, ValueError) as error:
        _log.warning("sso_provider_unreachable", provider=client.provider.name, error=str(error))
        raise ServiceUnavailableError("the sign-in provider cannot be reached") from error


def safe_redirect_after(value: str | None, public_url: str) -> str | None:
    """Where the front end goes after sign-in: a local path, or a URL of our public origin.
    Anything else would make this service an open redirect."""
    if not value:
        return None
    parts = urlsplit(value)
    if "\\" in value or any(not ch.isprintable() for ch in value):
        raise InvalidInputError("redirect_after must be a path or a URL of this site")
    if not parts.scheme and not parts.netloc and value.startswith("/"):
        return value
    public = urlsplit(public_url)
    if (parts.scheme, parts.netloc) == (public.scheme, public.netloc):
        return value
    raise InvalidInputError("redirect_after must be a path or a URL of this site")


def _secure_cookie(runtime: AuthRuntime) -> bool:
    return runtime.settings.is_production or runtime.settings.public_url.startswith("https:")


@router.get("/auth/sso/providers")
async def list_providers(runtime: RuntimeDep) -> list[SsoProviderOut]:
    return [SsoProviderOut(name=name) for name in _providers(runtime)]


@router.get(
    "/auth/sso/{provider}/start",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {"description": "To the provider's authorization endpoint"},
        404: problem_response(404, "No such provider"),
        503: problem_response(503, "Provider unreachable or misconfigured"),
    },
)
async def start_sign_in(
    provider: ProviderName,
    runtime: RuntimeDep,
    request: Request,
    redirect_after: Annotated[str | None, Query(max_length=500)] = None,
    login_hint: Annotated[str | None, Query(min_length=1, max_length=320)] = None,
) -> RedirectResponse:
    config = _provider(runtime, provider)
    after = safe_redirect_after(redirect_after, runtime.settings.public_url)
    # One binding per browser, reused, so sign-ins started in two tabs both complete.
    binding = request.cookies.get(BINDING_COOKIE, "")
    if not _BINDING.match(binding):
        binding = secrets.token_urlsafe(32)
    state = secrets.token_urlsafe(32)
    pending = PendingSignIn.new(provider, binding, after)
    client = client_for(config)
    url = await _reach(
        client,
        client.authorization_url(
            state=state,
            nonce=pending.nonce,
            code_verifier=pending.code_verifier,
            login_hint=login_hint,
        ),
    )
    await SsoStateStore(runtime.resources.redis, runtime.resources.redis_keys).put(state, pending)
    response = RedirectResponse(url, status_code=302, headers={"cache-control": "no-store"})
    response.set_cookie(
        BINDING_COOKIE,
        binding,
        max_age=STATE_TTL_SECONDS,
        path="/auth/sso",
        httponly=True,
        samesite="lax",
        secure=_secure_cookie(runtime),
    )
    return response


@router.get(
    "/auth/sso/{provider}/callback",
    responses={
        400: problem_response(400, "Unknown, replayed or foreign state"),
        401: problem_response(401, "The provider refused, or its ID token is invalid"),
        403: problem_response(403, "The provider shared no usable e-mail address"),
        404: problem_response(404, "No such provider"),
        409: problem_response(409, "The e-mail belongs to an account that may not be linked"),
        503: problem_response(503, "Provider or workflow unavailable"),
    },
)
async def complete_sign_in(
    provider: ProviderName,
    runtime: RuntimeDep,
    client: ClientDep,
    request: Request,
    response: Response,
    state: Annotated[str, Query(min_length=16, max_length=200)],
    code: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
    iss: Annotated[str | None, Query(max_length=300)] = None,
    error: Annotated[str | None, Query(max_length=100)] = None,
) -> SsoSignInResponse:
    config = _provider(runtime, provider)
    pending = await _take_state(runtime, provider, state, request)
    if error is not None:
        raise SsoRejectedError(f"the provider did not sign you in ({error[:100]})")
    if code is None:
        raise InvalidInputError("code is required")
    oidc = client_for(config)
    metadata = await _reach(oidc, oidc.metadata())
    # RFC 9207: a response naming another issuer (or none, from one that names it) is a mix-up.
    if iss != config.issuer and (iss is not None or metadata.iss_parameter):
        raise SsoStateError("the authorization response comes from another issuer")
    # The grant enters the workflow sealed for this run: its history never holds it in clear.
    grant = Grant(code=code, code_verifier=pending.code_verifier, nonce=pending.nonce)
    result = await _run_workflow(
        runtime,
        state,
        SsoAuthenticationInput(
            provider=provider,
            grant=seal_grant(runtime.settings, sso_workflow_id(state), grant),
            client_ip=client.ip,
            user_agent=client.user_agent,
        ),
    )
    response.headers["cache-control"] = "no-store"
    try:
        session = open_session(runtime.settings, result.user_id, result.session)
    except SealError as failure:  # a seal key missing on this replica: its operator's to fix
        _log.error("sso_tokens_unopenable", error=str(failure))
        raise ServiceUnavailableError("the sign-in could not be completed; try again") from failure
    tokens = None
    if session.access_token and session.refresh_token and session.session_id:
        tokens = TokenPair.of(
            IssuedTokens(
                session.access_token, session.refresh_token, session.expires_in, session.session_id
            )
        )
    return SsoSignInResponse(
        user_id=result.user_id,
        outcome=result.outcome,  # type: ignore[arg-type]
        mfa_required=session.mfa_token is not None,
        mfa_token=session.mfa_token,
        tokens=tokens,
        redirect_after=pending.redirect_after,
    )


async def _take_state(
    runtime: AuthRuntime, provider: str, state: str, request: Request
) -> PendingSignIn:
    """The pending sign-in of ``state``, spent now whatever happens next."""
    pending = await SsoStateStore(runtime.resources.redis, runtime.resources.redis_keys).take(state)
    if pending is None:
        raise SsoStateError("unknown, expired or already used sign-in state")
    if pending.provider != provider:
        raise SsoStateError("this sign-in was started with another provider")
    binding = request.cookies.get(BINDING_COOKIE, "")
    if not hmac.compare_digest(digest(binding), pending.binding_hash):
        raise SsoStateError("this sign-in was started in another browser")
    return pending


_FAILURES: dict[str, type[DomainError]] = {
    AuthError.SSO_REJECTED: SsoRejectedError,
    AuthError.SSO_ACCOUNT_EXISTS: ConflictError,
    AuthError.SSO_EMAIL_MISSING: ForbiddenError,
}


def _failure(cause: ApplicationError) -> DomainError:
    return _FAILURES[cause.type or ""](cause.message)


_RUN_ERRORS = workflow_calls.WorkflowErrors(
    call="sso_sign_in",
    unavailable="the sign-in is taking too long; try again",
    failed="the sign-in could not be completed; try again",
    already_started=lambda: SsoStateError("this sign-in was already completed"),
    failures=dict.fromkeys(_FAILURES, _failure),
)


async def _run_workflow(
    runtime: AuthRuntime, state: str, input: SsoAuthenticationInput
) -> SsoAuthenticationResult:
    result: SsoAuthenticationResult = await workflow_calls.execute(
        runtime.temporal,
        SsoAuthenticationWorkflow.run,
        input,
        id=sso_workflow_id(state),
        task_queue=runtime.settings.task_queue(ServiceName.auth),
        errors=_RUN_ERRORS,
        result_timeout=RESULT_TIMEOUT_SECONDS,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        execution_timeout=WORKFLOW_TIMEOUT,
    )
    return result
