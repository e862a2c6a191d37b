"""Signing-key rotation: new tokens use the new key, old tokens stay valid until they expire,
the retired key leaves the JWKS afterwards, and verifiers pick up a new key id by themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.auth.signing_keys import KeyRing, load_or_create_dev_keys, rotate_dev_keys
from services.auth.token_issuer import TokenIssuer
from services.common.settings import Settings
from services.common.tokens import InvalidTokenError, JwksCache, TokenVerifier


def issue(ring: KeyRing, settings: Settings) -> str:
    return TokenIssuer(ring, settings).access_token(
        user_id="u1", session_id="s1", tenant_id=None, roles=[], auth_methods=["pwd"]
    )


async def test_rotation_keeps_old_tokens_valid_until_expiry(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    ttl = timedelta(seconds=settings.auth_access_token_seconds)
    before = KeyRing(load_or_create_dev_keys(tmp_path / "keys"), ttl)
    old_token = issue(before, settings)

    new_key = rotate_dev_keys(tmp_path / "keys")
    after = KeyRing(load_or_create_dev_keys(tmp_path / "keys"), ttl)
    published = {k["kid"] for k in after.jwks()["keys"]}

    assert after.active.kid == new_key.kid != before.active.kid
    assert published == {before.active.kid, new_key.kid}
    verifier = TokenIssuer(after, settings).verifier()
    assert (await verifier.verify(old_token)).user_id == "u1"
    assert (await verifier.verify(issue(after, settings))).user_id == "u1"

    later = datetime.now(UTC) + ttl + timedelta(minutes=2)
    assert {k.kid for k in after.published(later)} == {new_key.kid}


async def test_verifier_refreshes_jwks_for_a_new_key_id(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    ttl = timedelta(seconds=settings.auth_access_token_seconds)
    ring = {"now": KeyRing(load_or_create_dev_keys(tmp_path / "keys"), ttl)}
    fetches = []

    async def fetch() -> dict:  # type: ignore[type-arg]
        fetches.append(1)
        return ring["now"].jwks()

    cache = JwksCache(fetch)
    verifier = TokenVerifier(cache, issuer=settings.auth_issuer, audience=settings.auth_audience)
    await verifier.verify(issue(ring["now"], settings))

    rotate_dev_keys(tmp_path / "keys")
    ring["now"] = KeyRing(load_or_create_dev_keys(tmp_path / "keys"), ttl)
    cache._fetched_at -= 60  # past the refresh interval that stops kid flooding
    await verifier.verify(issue(ring["now"], settings))

    assert len(fetches) == 2
    with pytest.raises(InvalidTokenError, match="unknown signing key"):
        await verifier.verify(
            issue(KeyRing(load_or_create_dev_keys(tmp_path / "other"), ttl), settings)
        )
    assert len(fetches) == 2, "an unknown kid right after a refresh must not trigger another fetch"
