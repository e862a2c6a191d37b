"""The gateway checks a token's signature and claims once (``gateway/auth.py``
``GatewayTokenVerifier``) and still refuses it the moment it must: a revoked session at once
(the deny-list is asked every time), at its expiry, when the key that signed it leaves the JWKS,
and a token altered by one character was never checked."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from gateway.auth import GatewayTokenVerifier
from services.common.resources import Resources
from services.common.tokens import InvalidTokenError, JwksCache, revoked_session_key

ISSUER, AUDIENCE = "adx-test-issuer", "adx-test-audience"


class Keys:
    """The test's own signing keys and the JWKS document they publish."""

    def __init__(self) -> None:
        self.private: dict[str, Ed25519PrivateKey] = {}
        self.add()

    def add(self) -> str:
        kid = uuid.uuid4().hex
        self.private[kid] = Ed25519PrivateKey.generate()
        return kid

    async def document(self) -> dict[str, Any]:
        return {
            "keys": [
                {**OKPAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid}
                for kid, key in self.private.items()
            ]
        }

    def token(self, *, lifetime: float = 300, session: str | None = None) -> str:
        kid = next(iter(self.private))
        now = int(time.time())
        claims = {
            "sub": str(uuid.uuid4()),
            "sid": session or str(uuid.uuid4()),
            "typ": "access",
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "roles": [],
            "amr": ["pwd"],
        }
        return jwt.encode(claims, self.private[kid], algorithm="EdDSA", headers={"kid": kid})


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def verifier(keys: Keys, gateway_resources: Resources) -> GatewayTokenVerifier:
    return GatewayTokenVerifier(
        JwksCache(keys.document),
        issuer=ISSUER,
        audience=AUDIENCE,
        redis=gateway_resources.redis,
        keys=gateway_resources.redis_keys,
    )


async def test_a_checked_token_is_reused_and_an_altered_one_is_not(
    keys: Keys, verifier: GatewayTokenVerifier
) -> None:
    token = keys.token()

    first = await verifier.verify(token)
    again = await verifier.verify(token)

    assert first == again
    assert list(verifier._checked) == [token]
    altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(InvalidTokenError):
        await verifier.verify(altered)


async def test_a_revoked_session_is_refused_at_once(
    keys: Keys, verifier: GatewayTokenVerifier, gateway_resources: Resources
) -> None:
    session = str(uuid.uuid4())
    token = keys.token(session=session)
    await verifier.verify(token)  # checked and kept

    key = revoked_session_key(gateway_resources.redis_keys, session)
    await gateway_resources.redis.set(key, "1", ex=60)
    try:
        with pytest.raises(InvalidTokenError, match="revoked"):
            await verifier.verify(token)
    finally:
        await gateway_resources.redis.delete(key)


async def test_a_kept_token_expires_on_time(keys: Keys, verifier: GatewayTokenVerifier) -> None:
    token = keys.token(lifetime=2)
    await verifier.verify(token)

    await asyncio.sleep(2.2)

    with pytest.raises(InvalidTokenError, match="expired"):
        await verifier.verify(token)
    assert token not in verifier._checked


async def test_a_withdrawn_signing_key_fails_its_kept_tokens(
    keys: Keys, verifier: GatewayTokenVerifier
) -> None:
    token = keys.token()
    await verifier.verify(token)

    keys.private.clear()  # the key is withdrawn from the JWKS, another one published
    keys.add()
    verifier.jwks._fetched_at = 0.0  # the JWKS cache's max age has passed

    with pytest.raises(InvalidTokenError, match="unknown signing key"):
        await verifier.verify(token)
