"""OpenID Connect relying party (authlib + joserfc): discovery, the authorization URL, the code
exchange with PKCE, and ID-token validation against the provider's published keys."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    DecodeError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingKeyError,
)
from joserfc.jwk import KeySet

from services.auth.sso.config import SsoConfigError, SsoProvider

with warnings.catch_warnings():
    # authlib announces a future move from httpx to "httpx2"; the client works with httpx.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

#: Asymmetric algorithms only: never ``none``, never HS* (the client secret is not a signing key).
ALLOWED_ALGORITHMS = frozenset(
    "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519".split()
)
HTTP_TIMEOUT = httpx.Timeout(10.0)
METADATA_TTL_SECONDS = 3600
#: A token with an unknown ``kid`` refetches the JWKS (key rotation) at most this often.
JWKS_REFETCH_SECONDS = 30
CLOCK_SKEW_SECONDS = 60


class SsoRejected(Exception):
    """The provider refused, or its answer failed validation: retrying cannot fix it."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]
    #: RFC 9207: the authorization response carries ``iss`` (a mix-up attack defence).
    iss_parameter: bool


@dataclass(frozen=True)
class VerifiedIdentity:
    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None


def _metadata_from(document: dict[str, Any], provider: SsoProvider) -> ProviderMetadata:
    # OIDC Discovery 4.3: the document's issuer must be exactly the configured one.
    if document.get("issuer") != provider.issuer:
        raise SsoConfigError(
            f"SSO provider {provider.name!r}: discovery says issuer "
            f"{document.get('issuer')!r}, configured {provider.issuer!r}"
        )
    missing = [
        name
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if not isinstance(document.get(name), str)
    ]
    if missing:
        raise SsoConfigError(f"SSO provider {provider.name!r}: discovery lacks {missing}")
    methods = document.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise SsoConfigError(f"SSO provider {provider.name!r} does not support PKCE S256")
    offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = tuple(alg for alg in offered if alg in ALLOWED_ALGORITHMS)
    if not algorithms:
        raise SsoConfigError(
            f"SSO provider {provider.name!r} offers no acceptable ID-token algorithm ({offered})"
        )
    userinfo = document.get("userinfo_endpoint")
    return ProviderMetadata(
        issuer=provider.issuer,
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        userinfo_endpoint=userinfo if isinstance(userinfo, str) else None,
        algorithms=algorithms,
        iss_parameter=document.get("authorization_response_iss_parameter_supported") is True,
    )


def _describe(error: JoseError) -> str:
    if isinstance(error, InvalidKeyIdError | MissingKeyError):
        return "the ID token is signed with a key the provider does not publish"
    if isinstance(error, BadSignatureError):
        return "the ID token signature is invalid"
    if isinstance(error, ExpiredTokenError):
        return "the ID token has expired"
    if isinstance(error, InvalidClaimError) and error.claim == "nonce":
        return "the ID token does not belong to this sign-in (nonce mismatch)"
    if isinstance(error, ClaimError):
        return f"the ID token is invalid ({error.claim}: {error.description})"
    if isinstance(error, DecodeError):
        return "the ID token is malformed"
    return f"the ID token is invalid ({error.error})"


class OidcClient:
    """One provider as seen by this service; caches discovery and the JWKS per process."""

    def __init__(self, provider: SsoProvider) -> None:
        self.provider = provider
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False)

    async def _get_json(self, url: str, **kwargs: Any) -> dict[str, Any]:
        async with self._http() as http:
            response = await http.get(url, **kwargs)
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError(f"{url} did not return a JSON object")
        return body

    async def metadata(self) -> ProviderMetadata:
        if self._metadata is None or time.monotonic() - self._metadata_at > METADATA_TTL_SECONDS:
            url = self.provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
            self._metadata = _metadata_from(await self._get_json(url), self.provider)
            self._metadata_at = time.monotonic()
        return self._metadata

    def _oauth(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.provider.client_id,
            client_secret=self.provider.client_secret.get_secret_value(),
            token_endpoint_auth_method=self.provider.token_endpoint_auth_method,
            scope=self.provider.scope,
            redirect_uri=self.provider.redirect_uri,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT,
        )

    async def authorization_url(
        self, *, state: str, nonce: str, code_verifier: str, login_hint: str | None = None
    ) -> str:
        """The provider's authorize URL: code flow, PKCE S256, state and nonce."""
        metadata = await self.metadata()
        extra = {"login_hint": login_hint} if login_hint else {}
        async with self._oauth() as client:
            url, _ = client.create_authorization_url(
                metadata.authorization_endpoint,
                state=state,
                code_verifier=code_verifier,
                nonce=nonce,
                **extra,
            )
        return str(url)

    async def exchange(self, *, code: str, code_verifier: str, nonce: str) -> VerifiedIdentity:
        """Redeem the code (with the PKCE verifier) and validate the ID token it yields.

        Raises SsoRejected for a refusal or an invalid token; network errors and 5xx answers
        propagate (transient: the caller may retry).
        """
        metadata = await self.metadata()
        async with self._oauth() as client:
            try:
                token = await client.fetch_token(
                    metadata.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
            except OAuthError as error:
                raise SsoRejected(
                    f"the provider rejected the authorization code ({error.error})"
                ) from error
            except httpx.HTTPStatusError as error:
                if error.response.status_code >= 500:
                    raise
                raise SsoRejected(
                    f"the provider rejected the token request (HTTP {error.response.status_code})"
                ) from error
            except ValueError as error:  # a 2xx answer that is not a JSON object
                raise SsoRejected("the provider's token response is malformed") from error
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SsoRejected("the provider returned no ID token")
        claims = await self.validate_id_token(
            id_token, nonce=nonce, access_token=token.get("access_token")
        )
        if "email" not in claims and metadata.userinfo_endpoint and token.get("access_token"):
            claims = {**await self._userinfo(metadata, token["access_token"], claims), **claims}
        email = claims.get("email")
        name = claims.get("name")
        return VerifiedIdentity(
            issuer=self.provider.issuer,
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) else None,
            # Only a JSON true counts: "true" strings or missing claims are not an assertion.
            email_verified=claims.get("email_verified") is True,
            name=name if isinstance(name, str) else None,
        )

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        stale = time.monotonic() - self._keys_at > METADATA_TTL_SECONDS
        may_refetch = time.monotonic() - self._keys_at > JWKS_REFETCH_SECONDS
        if self._keys is None or stale or (refresh and may_refetch):
            metadata = await self.metadata()
            document = await self._get_json(metadata.jwks_uri)
            self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            self._keys_at = time.monotonic()
        return self._keys

    async def validate_id_token(
        self, id_token: str, *, nonce: str, access_token: Any = None
    ) -> dict[str, Any]:
        """The ID token's claims once its signature (a published key, an allowed algorithm),
        ``iss``, ``aud``, ``azp``, ``exp``, ``iat``, ``nonce`` and ``at_hash`` check out."""
        metadata = await self.metadata()
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(), metadata.algorithms)
            except (InvalidKeyIdError, MissingKeyError):
                # The provider may have rotated its keys since we fetched them.
                keys = await self._key_set(refresh=True)
                decoded = jwt.decode(id_token, keys, metadata.algorithms)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": metadata.issuer},
                    "aud": {"essential": True, "value": self.provider.client_id},
                    "sub": {"essential": True},
                    "exp": {"essential": True},
                    "nonce": {"essential": True, "value": nonce},
                },
                {
                    "nonce": nonce,
                    "client_id": self.provider.client_id,
                    "access_token": access_token if isinstance(access_token, str) else None,
                },
            )
            claims.validate(leeway=CLOCK_SKEW_SECONDS)
        except JoseError as error:
            raise SsoRejected(_describe(error)) from error
        except ValueError as error:  # not a JWS at all
            raise SsoRejected("the ID token is malformed") from error
        return dict(claims)

    async def _userinfo(
        self, metadata: ProviderMetadata, access_token: str, claims: dict[str, Any]
    ) -> dict[str, Any]:
        """E-mail and name from the UserInfo endpoint, when the ID token leaves them out."""
        assert metadata.userinfo_endpoint is not None
        try:
            info = await self._get_json(
                metadata.userinfo_endpoint, headers={"authorization": f"Bearer {access_token}"}
            )
        except (httpx.HTTPStatusError, ValueError) as error:
            raise SsoRejected("the provider's userinfo endpoint refused the token") from error
        # OIDC Core 5.3.2: a userinfo response for another subject must not be used.
        if info.get("sub") != claims["sub"]:
            raise SsoRejected("the userinfo response is for another subject")
        return {key: info[key] for key in ("email", "email_verified", "name") if key in info}


_clients: dict[tuple[str, str, str], OidcClient] = {}


def client_for(provider: SsoProvider) -> OidcClient:
    """One client per provider registration per process, so its caches are shared."""
    key = (provider.name, provider.issuer, provider.client_id)
    client = _clients.get(key)
    if client is None or client.provider != provider:
        client = _clients[key] = OidcClient(provider)
    return client
