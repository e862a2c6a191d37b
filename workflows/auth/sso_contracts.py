"""Activity contracts of SSO sign-in (auth service, task queue ``<prefix>-auth``)."""

from __future__ import annotations

from dataclasses import dataclass

SSO_EXCHANGE_CODE = "auth.sso_exchange_code"
LINK_SSO_IDENTITY = "auth.link_sso_identity"
DELETE_SSO_ACCOUNT = "auth.delete_sso_account"
CREATE_SSO_SESSION = "auth.create_sso_session"

#: Business failures (``ApplicationError.type``) of SSO sign-in.
SSO_REJECTED = "SsoRejected"  # the provider refused, or its ID token failed validation
SSO_ACCOUNT_EXISTS = "SsoAccountExists"  # the e-mail has an account that may not be linked
SSO_EMAIL_MISSING = "SsoEmailMissing"  # no usable e-mail to create an account with
SSO_MISCONFIGURED = "SsoMisconfigured"  # unknown provider or inconsistent discovery
SSO_FAILED = "SsoFailed"  # a later step failed and the new account was rolled back


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


@dataclass
class DeleteSsoAccountInput:
    """Compensation: remove the account a link step created (and only that one)."""

    user_id: str
    #: The idempotency key the account was created with; another account is never removed.
    account_key: str


@dataclass
class DeleteSsoAccountOutput:
    deleted: bool


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
