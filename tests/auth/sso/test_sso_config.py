"""SSO configuration: ``ADX_AUTH_SSO_PROVIDERS`` is validated and a bad value fails clearly (the
worker start and HTTP 503 cases, which need the running stack, are in test_sso.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.auth.sso.config import SsoConfigError, parse_providers

SECRET = "do-not-print-this-secret"


def provider(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "corp",
        "issuer": "https://login.example.com",
        "client_id": "adx",
        "client_secret": SECRET,
        "redirect_uri": "https://adx.example.com/auth/sso/corp/callback",
        **overrides,
    }


def test_a_valid_setting_parses() -> None:
    providers = parse_providers(json.dumps([provider(link_verified_email=True)]))
    corp = providers["corp"]
    assert corp.link_verified_email is True and corp.scope == "openid email profile"
    assert corp.client_secret.get_secret_value() == SECRET
    assert parse_providers("[]") == {}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("not json", "not valid JSON"),
        (json.dumps({"name": "corp"}), "list"),
        (json.dumps([{k: v for k, v in provider().items() if k != "client_id"}]), "client_id"),
        (json.dumps([provider(clientid="typo")]), "clientid"),
        (json.dumps([provider(name="Corp Login")]), "name"),
        (json.dumps([provider(issuer="login.example.com")]), "issuer"),
        (json.dumps([provider(issuer="https://login.example.com?x=1")]), "issuer"),
        (json.dumps([provider(redirect_uri="ftp://adx.example.com/cb")]), "redirect_uri"),
        (json.dumps([provider(scope="email profile")]), "openid"),
        (json.dumps([provider(link_verified_email="perhaps")]), "link_verified_email"),
        (json.dumps([provider(token_endpoint_auth_method="none")]), "token_endpoint_auth"),
        (json.dumps([provider(), provider()]), "appears twice"),
    ],
)
def test_an_invalid_setting_is_refused_with_its_name(raw: str, problem: str) -> None:
    with pytest.raises(SsoConfigError) as error:
        parse_providers(raw)
    message = str(error.value)
    assert "ADX_AUTH_SSO_PROVIDERS" in message and problem in message
    assert SECRET not in message


def test_production_requires_https_except_on_loopback() -> None:
    insecure = json.dumps([provider(issuer="http://login.example.com")])
    with pytest.raises(SsoConfigError, match="https in production"):
        parse_providers(insecure, production=True)
    assert parse_providers(insecure, production=False)
    loopback = json.dumps(
        [provider(issuer="http://127.0.0.1:9000", redirect_uri="http://localhost/cb")]
    )
    assert parse_providers(loopback, production=True)
