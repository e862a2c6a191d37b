"""SSO provider configuration: ``ADX_AUTH_SSO_PROVIDERS`` parsed and validated, or a clear error."""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from services.common.settings import Settings

SETTING = "ADX_AUTH_SSO_PROVIDERS"
#: Provider names appear in URL paths (``/auth/sso/{name}/start``).
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
ProviderName = Annotated[str, Field(pattern=NAME_PATTERN)]


class SsoConfigError(ValueError):
    """The SSO provider setting is invalid; the message names the setting and the problem."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(value: str, field: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{field} must be an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{field} must not carry a query or fragment")
    return value


class SsoProvider(BaseModel):
    """One OpenID Connect provider and this service's client registration at it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ProviderName
    issuer: str = Field(min_length=8, max_length=300)
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: SecretStr
    redirect_uri: str = Field(min_length=8, max_length=500)
    #: Link a first SSO sign-in to an existing account with the same e-mail, when the provider
    #: asserts ``email_verified``. Off by default: only trust providers that own their domains.
    link_verified_email: bool = False
    scope: str = Field("openid email profile", max_length=300)
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post"] = (
        "client_secret_basic"  # noqa: S105 - an OAuth method name, not a secret
    )

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        return _check_url(value, "issuer")

    @field_validator("redirect_uri")
    @classmethod
    def _redirect_uri(cls, value: str) -> str:
        return _check_url(value, "redirect_uri")

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError("scope must include openid")
        return value

    def insecure_urls(self) -> list[str]:
        """Plain-http URLs that are not loopback (acceptable only outside production)."""
        return [
            url
            for url in (self.issuer, self.redirect_uri)
            if urlsplit(url).scheme == "http" and not _is_loopback(urlsplit(url).hostname or "")
        ]


_PROVIDER_LIST = TypeAdapter(list[SsoProvider])


def parse_providers(raw: str, *, production: bool = False) -> dict[str, SsoProvider]:
    """Providers by name. Raises SsoConfigError naming ``ADX_AUTH_SSO_PROVIDERS`` when invalid;
    in production every issuer and redirect URI must be https."""
    try:
        data = json.loads(raw or "[]")
    except json.JSONDecodeError as error:
        raise SsoConfigError(f"{SETTING} is not valid JSON: {error}") from error
    try:
        providers = _PROVIDER_LIST.validate_python(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '(list)'}: {item['msg']}"
            for item in error.errors(include_url=False)
        )
        raise SsoConfigError(f"{SETTING} is invalid: {problems}") from None
    by_name: dict[str, SsoProvider] = {}
    for provider in providers:
        if provider.name in by_name:
            raise SsoConfigError(f"{SETTING}: provider name {provider.name!r} appears twice")
        if production and provider.insecure_urls():
            raise SsoConfigError(
                f"{SETTING}: provider {provider.name!r} must use https in production "
                f"({', '.join(provider.insecure_urls())})"
            )
        by_name[provider.name] = provider
    return by_name


@lru_cache(maxsize=8)
def _cached(raw: str, production: bool) -> dict[str, SsoProvider]:
    return parse_providers(raw, production=production)


def providers_of(settings: Settings) -> dict[str, SsoProvider]:
    """The configured providers (parsed once per distinct setting value)."""
    return _cached(settings.auth_sso_providers, settings.is_production)
