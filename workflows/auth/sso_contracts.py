"""Activity contracts of SSO sign-in (auth service, task queue ``<prefix>-auth``); its error
types are ``AuthError.SSO_*`` (``workflows/auth/contracts.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.common import RetryPolicy

from workflows.auth.contracts import AUTH
from workflows.common.contracts import ActivityContract

#: An authorization code is single-use and short-lived: a few quick retries, then give up.
EXCHANGE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=3,
)


@dataclass
class SsoExchangeInput:
    provider: str
    #: Runs started before sealing only: the grant in clear. Newer runs leave these empty and
    #: pass ``grant``.
    code: str = ""
    code_verifier: str = ""
    nonce: str = ""
    #: ``{code, code_verifier, nonce}`` sealed by the callback route for this workflow; only
    #: the code exchange opens it.
    grant: str = ""


@dataclass
class SsoExchangeOutput:
    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    #: The provider's policy: may a verified e-mail link to an existing account?
    link_verified_email: bool


SSO_EXCHANGE_CODE = ActivityContract(
    "auth.sso_exchange_code", AUTH, SsoExchangeInput, SsoExchangeOutput, retry_policy=EXCHANGE_RETRY
)


@dataclass
class LinkSsoIdentityInput:
    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    link_verified_email: bool
    #: The id a new account gets (minted by the workflow, so a retry reuses it).
    new_user_id: str
    idempotency_key: str


@dataclass
class LinkSsoIdentityOutput:
    user_id: str
    #: ``created`` (new account), ``linked`` (existing account, first SSO sign-in) or
    #: ``returning`` (this identity signed in before).
    outcome: str
    email: str


LINK_SSO_IDENTITY = ActivityContract(
    "auth.link_sso_identity", AUTH, LinkSsoIdentityInput, LinkSsoIdentityOutput
)


@dataclass
class DeleteSsoAccountInput:
    """Compensation: remove the account a link step created (and only that one)."""

    user_id: str
    #: The idempotency key the account was created with; another account is never removed.
    account_key: str


@dataclass
class DeleteSsoAccountOutput:
    deleted: bool


DELETE_SSO_ACCOUNT = ActivityContract(
    "auth.delete_sso_account", AUTH, DeleteSsoAccountInput, DeleteSsoAccountOutput
)


@dataclass
class CreateSsoSessionInput:
    user_id: str
    client_ip: str | None
    user_agent: str | None
    idempotency_key: str


@dataclass
class CreateSsoSessionOutput:
    """A token pair, or (account with MFA on) only a partial token for the second factor.

    The tokens are sealed for the account (the callback route opens them for the browser);
    runs from before sealing recorded them in clear."""

    mfa_token: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    expires_in: int = 0
    session_id: str | None = None


CREATE_SSO_SESSION = ActivityContract(
    "auth.create_sso_session", AUTH, CreateSsoSessionInput, CreateSsoSessionOutput
)
