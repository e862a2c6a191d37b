"""Every way to forge or misuse an access token gets a 401."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.auth.runtime import AuthRuntime
from tests.auth.users import AuthUser, login


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})  # type: ignore[no-any-return]


def sign(runtime: AuthRuntime, claims: dict[str, Any], **header: Any) -> str:
    key = runtime.keys.active
    return jwt.encode(
        claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid, **header}
    )


Attack = Callable[[AuthRuntime, dict[str, Any]], str]


def alg_none(runtime: AuthRuntime, claims: dict[str, Any]) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": runtime.keys.active.kid}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}."


def hs256_with_public_key(runtime: AuthRuntime, claims: dict[str, Any]) -> str:
    """Key confusion: HMAC keyed with the published public key."""
    public = runtime.keys.active.private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    header = {"alg": "HS256", "kid": runtime.keys.active.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    import hashlib
    import hmac

    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def rs256_foreign_key(runtime: AuthRuntime, claims: dict[str, Any]) -> str:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, other, algorithm="RS256", headers={"kid": runtime.keys.active.kid})


def unknown_kid(runtime: AuthRuntime, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "x"})


def foreign_key_known_kid(runtime: AuthRuntime, claims: dict[str, Any]) -> str:
    return jwt.encode(
        claims,
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": runtime.keys.active.kid},
    )


def expired(runtime: AuthRuntime, claims: dict[str, Any]) -> str:
    return sign(runtime, {**claims, "iat": claims["iat"] - 3600, "exp": int(time.time()) - 5})


def future_nbf(runtime: AuthRuntime, claims: dict[str, Any]) -> str:
    return sign(runtime, {**claims, "nbf": int(time.time()) + 600})


def wrong_audience(runtime: AuthRuntime, claims: dict[str, Any]) -> str:
    return sign(runtime, {**claims, "aud": "someone-else"})


def wrong_issuer(runtime: AuthRuntime, claims: dict[str, Any]) -> str:
    return sign(runtime, {**claims, "iss": "https://evil.example"})


def missing_session(runtime: AuthRuntime, claims: dict[str, Any]) -> str:
    return sign(runtime, {k: v for k, v in claims.items() if k != "sid"})


def mfa_partial_token(runtime: AuthRuntime, claims: dict[str, Any]) -> str:
    return runtime.issuer.mfa_token(user_id=claims["sub"], tenant_id=None, attempt="a")


def tampered_claims(runtime: AuthRuntime, claims: dict[str, Any]) -> str:
    genuine = sign(runtime, claims)
    header, _, signature = genuine.split(".")
    forged = {**claims, "roles": ["owner"], "sub": "00000000-0000-0000-0000-000000000000"}
    return f"{header}.{b64(json.dumps(forged).encode())}.{signature}"


ATTACKS: list[Attack] = [
    alg_none,
    hs256_with_public_key,
    rs256_foreign_key,
    unknown_kid,
    foreign_key_known_kid,
    expired,
    future_nbf,
    wrong_audience,
    wrong_issuer,
    missing_session,
    mfa_partial_token,
    tampered_claims,
]


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.__name__)
async def test_forged_or_misused_token_is_rejected(
    attack: Attack, auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime
) -> None:
    genuine = str((await login(auth_client, user))["access_token"])
    forged = attack(auth_runtime, claims_of(genuine))

    response = await auth_client.get("/auth/me", headers={"authorization": f"Bearer {forged}"})

    assert response.status_code == 401, f"{attack.__name__} was accepted: {response.text}"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


async def test_genuine_token_still_accepted(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime
) -> None:
    """Control: the re-signing helper itself produces tokens the service accepts."""
    genuine = str((await login(auth_client, user))["access_token"])
    resigned = sign(auth_runtime, claims_of(genuine))
    response = await auth_client.get("/auth/me", headers={"authorization": f"Bearer {resigned}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic abc", "Bearer not.a.jwt", "Bearer " + "a" * 5000],
)
async def test_malformed_authorization_headers(
    auth_client: httpx.AsyncClient, authorization: str
) -> None:
    response = await auth_client.get("/auth/me", headers={"authorization": authorization})
    assert response.status_code == 401
