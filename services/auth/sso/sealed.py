"""What SSO secrets are sealed for on their way through the ``sso_authentication`` workflow
(services/common/sealing.py): the authorization grant (code, PKCE verifier, nonce) from the
callback route to the code exchange, bound to the run's workflow id; the session's tokens from
the session step back to the callback route, bound to the account they were issued for."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.sealing import SealError, sealer_for
from services.common.settings import Settings
from workflows.auth.contracts import AuthError
from workflows.auth.sso_contracts import CreateSsoSessionOutput
from workflows.common.errors import business_error


@dataclass(frozen=True)
class Grant:
    code: str
    code_verifier: str
    nonce: str


def grant_purpose(workflow_id: str) -> str:
    return f"sso:grant:{workflow_id}"


def token_purpose(kind: str, user_id: str) -> str:
    return f"sso:{kind}:{user_id}"


def seal_grant(settings: Settings, workflow_id: str, grant: Grant) -> str:
    value = {"code": grant.code, "code_verifier": grant.code_verifier, "nonce": grant.nonce}
    return sealer_for(settings).seal_json(value, grant_purpose(workflow_id))


def open_grant(settings: Settings, workflow_id: str, sealed: str) -> Grant:
    try:
        value = sealer_for(settings).unseal_json(sealed, grant_purpose(workflow_id))
        if not isinstance(value, dict):
            raise SealError("not a grant")
        return Grant(str(value["code"]), str(value["code_verifier"]), str(value["nonce"]))
    except (SealError, KeyError) as error:
        raise business_error(
            AuthError.INVALID_INPUT, "the sealed sign-in grant cannot be opened"
        ) from error


_TOKENS = ("mfa_token", "access_token", "refresh_token")


def seal_session(
    settings: Settings, user_id: str, session: CreateSsoSessionOutput
) -> CreateSsoSessionOutput:
    """The same output with every token sealed for ``user_id`` (``session_id`` stays clear)."""
    sealer = sealer_for(settings)
    for kind in _TOKENS:
        value = getattr(session, kind)
        if value is not None:
            setattr(session, kind, sealer.seal(value, token_purpose(kind, user_id)))
    return session


def open_session(
    settings: Settings, user_id: str, session: CreateSsoSessionOutput
) -> CreateSsoSessionOutput:
    """The tokens opened for the browser (raw tokens of runs from before sealing pass)."""
    sealer = sealer_for(settings)
    opened = CreateSsoSessionOutput(expires_in=session.expires_in, session_id=session.session_id)
    for kind in _TOKENS:
        value = getattr(session, kind)
        if value is not None:
            setattr(opened, kind, sealer.unseal_or_raw(value, token_purpose(kind, user_id)))
    return opened
