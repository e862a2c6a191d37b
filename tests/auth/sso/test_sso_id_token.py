"""ID-token validation rules, each attacked with a forged token: algorithm pinning (``none``,
HS256 with the client secret), foreign keys, and every claim the relying party must check.

The provider's discovery document and keys are fixed here (no network), so a test can sign
tokens with the "provider's" key; the end-to-end tests in test_sso.py use a real provider."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from services.auth.sso.config import SsoProvider
from services.auth.sso.oidc import OidcClient, ProviderMetadata, SsoRejected

ISSUER = "https://idp.example.com"
CLIENT_ID = "adx"
SECRET = "a-client-secret-that-is-long-enough-for-hs256"
NONCE = "nonce-of-this-sign-in"
PROVIDER_KEY = RSAKey.generate_key(2048, parameters={"kid": "provider-key"})
ATTACKER_KEY = RSAKey.generate_key(2048, parameters={"kid": "provider-key"})


def client() -> OidcClient:
    provider = SsoProvider(
        name="idp",
        issuer=ISSUER,
        client_id=CLIENT_ID,
        client_secret=SECRET,  # type: ignore[arg-type]
        redirect_uri="https://adx.example.com/auth/sso/idp/callback",
    )
    oidc = OidcClient(provider)
    # What discovery and the JWKS endpoint would have answered, cached as if just fetched.
    oidc._metadata = ProviderMetadata(
        issuer=ISSUER,
        authorization_endpoint=f"{ISSUER}/auth",
        token_endpoint=f"{ISSUER}/token",
        jwks_uri=f"{ISSUER}/jwks",
        userinfo_endpoint=None,
        algorithms=("RS256",),
        iss_parameter=True,
    )
    oidc._metadata_at = oidc._keys_at = time.monotonic()
    oidc._keys = KeySet.import_key_set({"keys": [PROVIDER_KEY.as_dict(private=False)]})
    return oidc


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
        "email": "a@example.com",
    }
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def signed(payload: dict[str, Any], key: Any = PROVIDER_KEY, alg: str = "RS256") -> str:
    header = {"alg": alg, "kid": "provider-key"} if alg.startswith("RS") else {"alg": alg}
    return jwt.encode(header, payload, key, algorithms=[alg])


def unsigned(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(payload)}."


async def test_a_genuine_token_is_accepted() -> None:
    result = await client().validate_id_token(signed(claims()), nonce=NONCE)
    assert result["sub"] == "user-1" and result["email"] == "a@example.com"


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda: unsigned(claims()), "unsupported_algorithm"),
        (lambda: signed(claims(), OctKey.import_key(SECRET), "HS256"), "unsupported_algorithm"),
        (lambda: signed(claims(), ATTACKER_KEY), "signature is invalid"),
        (lambda: signed(claims(iss="https://evil.example.com")), "iss"),
        (lambda: signed(claims(aud="another-client")), "aud"),
        (lambda: signed(claims(aud=["another-client"])), "aud"),
        (lambda: signed(claims(aud=[CLIENT_ID, "another"], azp="another")), "azp"),
        (lambda: signed(claims(exp=int(time.time()) - 3600)), "expired"),
        (lambda: signed(claims(nbf=int(time.time()) + 3600)), "nbf"),
        (lambda: signed(claims(nonce="another-sign-in")), "nonce mismatch"),
        (lambda: signed(claims(nonce=None)), "nonce"),
        (lambda: signed(claims(sub=None)), "sub"),
        (lambda: "not.a.token", "malformed"),
    ],
    ids=[
        "alg-none",
        "hs256-with-client-secret",
        "foreign-key-same-kid",
        "wrong-iss",
        "wrong-aud",
        "wrong-aud-list",
        "foreign-azp",
        "expired",
        "future-nbf",
        "other-nonce",
        "no-nonce",
        "no-sub",
        "garbage",
    ],
)
async def test_a_forged_or_foreign_token_is_rejected(
    make_token: Callable[[], str], reason: str
) -> None:
    # Built when the test runs, not at collection: a token made then would have expired
    # by the time a long suite reaches this test (``exp`` is now + 300 s).
    with pytest.raises(SsoRejected) as error:
        await client().validate_id_token(make_token(), nonce=NONCE)
    assert reason in str(error.value)


async def test_a_wrong_access_token_hash_is_rejected() -> None:
    token = signed(claims(at_hash="AAAAAAAAAAAAAAAAAAAAAA"))
    with pytest.raises(SsoRejected, match="at_hash"):
        await client().validate_id_token(token, nonce=NONCE, access_token="the-access-token")
