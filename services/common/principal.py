"""Zero trust for every service route (docs/service-auth.md).

``create_app`` puts ``authenticate`` on the whole app, so every route of every service asks for
a valid, unrevoked access token before its own code or input validation runs, and a route added
tomorrow is protected without anyone remembering to. The only exceptions are the routes listed
below, each with the reason it cannot carry a user's token:

- ``PUBLIC_ROUTES``: public by design (probes, API description, JWKS, and the auth service's
  pre-authentication endpoints, which exist to obtain a token and are throttled).
- ``API_PORT_METRICS_ROUTES``: ``/metrics`` on the API port, public only while
  ``ADX_METRICS_PORT`` is unset (development). With it set, the metrics are served on that
  separate port (services/common/metrics.py) and the API port has no ``/metrics`` route at all:
  ``protect`` removes it and it is not on that process's allowlist.
- ``OWN_CREDENTIAL_ROUTES``: routes that check a credential of their own instead of a user's
  token (the codec endpoint's operator token, Stripe's signature, a tenant's SCIM token). They
  still refuse anonymous callers.

The token is verified like the gateway does (``services.common.tokens.TokenVerifier``: EdDSA
pinned, issuer, audience, expiry, session deny-list). A service other than auth reads the JWKS
that auth publishes into Redis; it never calls the auth service.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute, WebSocketRoute

from services.common.errors import UnauthorizedError
from services.common.health import metrics_on_api_port
from services.common.resources import Resources
from services.common.settings import ServiceName
from services.common.tokens import InvalidTokenError, Principal, TokenVerifier, bearer_token

RouteKey = tuple[str, str]  # (HTTP method, path template as declared, e.g. "/users/{user_id}")

_DOCS = "the API description (OpenAPI document and its viewers): no data, and the same for everyone"

#: On every service's port.
COMMON_PUBLIC_ROUTES: Mapping[RouteKey, str] = {
    ("GET", "/health/live"): "liveness probe: called by the kubelet and load balancers without "
    "credentials; answers a constant",
    ("GET", "/health/ready"): "readiness probe: called without credentials; names which "
    "dependency is down, no data",
    ("GET", "/openapi.json"): _DOCS,
    ("GET", "/docs"): _DOCS,
    ("GET", "/docs/oauth2-redirect"): _DOCS,
    ("GET", "/redoc"): _DOCS,
}

#: On the API port only while ``ADX_METRICS_PORT`` is unset (the development default).
API_PORT_METRICS_ROUTES: Mapping[RouteKey, str] = {
    ("GET", "/metrics"): "Prometheus scrape (development: ADX_METRICS_PORT unset): request "
    "counters and latencies by route template and status, no identifiers or personal data",
}

_PRE_AUTH = "pre-authentication: the caller has no token yet"

#: Per service, on top of ``COMMON_PUBLIC_ROUTES``.
PUBLIC_ROUTES: Mapping[ServiceName, Mapping[RouteKey, str]] = {
    ServiceName.auth: {
        ("GET", "/.well-known/jwks.json"): "public signing keys: verifiers need them to check "
        "any token at all",
        ("POST", "/auth/login"): f"{_PRE_AUTH}; throttled per account and per client address, "
        "one answer for unknown e-mail and wrong password",
        ("POST", "/auth/refresh"): f"{_PRE_AUTH} (the access token expired); the opaque refresh "
        "token in the body is the credential",
        ("POST", "/auth/register"): f"{_PRE_AUTH} (sign-up); one answer for every address",
        ("POST", "/auth/verify-email"): f"{_PRE_AUTH}; the single-use mailed token in the body "
        "is the credential",
        ("POST", "/auth/password-reset"): f"{_PRE_AUTH} (forgotten password); limited per "
        "client address and per e-mail address",
        ("POST", "/auth/password-reset/confirm"): f"{_PRE_AUTH}; the single-use mailed token in "
        "the body is the credential",
        ("POST", "/auth/mfa/verify"): f"{_PRE_AUTH}: second factor of a login; the partial MFA "
        "token (its own audience, no API accepts it) in the body is the credential",
        ("GET", "/auth/sso/providers"): f"{_PRE_AUTH}: the names of the sign-in buttons",
        ("GET", "/auth/sso/{provider}/start"): f"{_PRE_AUTH}: redirect to the identity provider",
        ("GET", "/auth/sso/{provider}/callback"): f"{_PRE_AUTH}: the identity provider's "
        "redirect; the single-use state and the authorization code are the credential",
    },
    # The gateway also runs create_app: its own routes, everything else is static files.
    ServiceName.gateway: {
        **{
            (method, "/graphql"): "GraphQL is public as a route: the gateway authenticates each "
            "operation itself (login and signUp need no token; every other resolver asks "
            "gateway/context.py for the verified principal)"
            for method in ("GET", "POST", "WEBSOCKET")
        },
        ("*", "/graphiql-assets/{path}"): "GraphiQL's static files (gateway/graphiql.py)",
        ("GET", "/verify-email"): "the page a mailed link opens: the link token is the "
        "credential, spent only by the GraphQL mutation the page calls",
        ("GET", "/reset-password"): "the page a mailed link opens (as /verify-email)",
        ("*", "/pages-assets/{path}"): "static files of those pages (gateway/pages.py)",
    },
    ServiceName.workflow: {
        ("POST", "/compliance/receipts/verify"): "whether an erasure receipt's signature is "
        "ours: anyone holding a receipt may check it (the erased person has no account); the "
        "answer is only valid or not and reads nothing but the platform's receipt key",
    },
}

_SCIM = (
    "SCIM 2.0 for identity providers: a tenant's SCIM bearer token (issued by its admins, "
    "stored as a SHA-256 digest, checked inside the tenant it names) is the credential "
    "(services/user/scim/credentials.py); a missing or wrong one is a 401 in SCIM's error format"
)
_READ, _WRITE = ("GET",), ("PUT", "PATCH", "DELETE")
#: The SCIM paths under ``/scim/v2`` and their methods (services/user/scim/routes.py).
_SCIM_ROUTES: Mapping[str, tuple[str, ...]] = {
    # The discovery endpoints answer other methods a SCIM 405.
    "/ServiceProviderConfig": ("GET", "POST", *_WRITE),
    "/Schemas": ("GET", "POST", *_WRITE),
    "/Schemas/{schema_id}": _READ,
    "/ResourceTypes": ("GET", "POST", *_WRITE),
    "/ResourceTypes/{resource_type_id}": _READ,
    "/Users": ("GET", "POST"),
    "/Users/{user_id}": _READ + _WRITE,
    "/Groups": ("GET", "POST"),
    "/Groups/{group_id}": _READ + _WRITE,
    # RFC 7644 3.4.3 searches: a SCIM 501 (the same queries are GETs).
    "/.search": ("POST",),
    "/Users/.search": ("POST",),
    "/Groups/.search": ("POST",),
    "/{path}": _READ,
}

#: Routes that authenticate with a credential of their own instead of a user's access token.
OWN_CREDENTIAL_ROUTES: Mapping[ServiceName, Mapping[RouteKey, str]] = {
    ServiceName.workflow: {
        ("POST", "/codec/decode"): "operator token ADX_CODEC_OPERATOR_TOKEN "
        "(services/workflow/codec_routes.py): operators, not users, read payloads",
        ("POST", "/codec/encode"): "operator token ADX_CODEC_OPERATOR_TOKEN "
        "(services/workflow/codec_routes.py)",
        ("GET", "/compliance/exports/{export_id}/archive"): "a GDPR export's mailed link: "
        "the HMAC of the export id and expiry is verified before anything is read "
        "(services/workflow/compliance/signing.py)",
    },
    ServiceName.user: {
        (method, f"/scim/v2{path}"): _SCIM
        for path, methods in _SCIM_ROUTES.items()
        for method in methods
    },
    ServiceName.file: {
        ("GET", "/files/signed/{tenant_id}/{file_id}"): "a signed download link: the HMAC of "
        "the tenant, file, version and expiry is verified before anything is read "
        "(services/file/downloads/signed_urls.py)",
        **{
            (method, path): "a share link: the token's HMAC over the tenant and share is "
            "verified before anything is read, then the share's status, expiry and password "
            "(services/file/sharing/links.py)"
            for method, path in (
                ("GET", "/shares/links/{token}"),
                ("GET", "/shares/links/{token}/content"),
                ("POST", "/shares/links/{token}/content"),
                ("PATCH", "/shares/links/{token}/name"),
            )
        },
    },
    ServiceName.tenant: {
        ("POST", "/billing/webhooks/stripe"): "Stripe's webhook deliveries: the Stripe-Signature "
        "HMAC of the body (ADX_STRIPE_WEBHOOK_SECRET, at most 300 s old) is verified before "
        "anything else (services/tenant/billing/routes.py)",
    },
}


def public_reason(
    service: ServiceName, method: str, path: str, *, metrics_port: int | None = None
) -> str | None:
    """Why ``method path`` of ``service`` needs no access token, or ``None`` when it does.

    ``metrics_port`` is the process's ``ADX_METRICS_PORT``: set, ``/metrics`` is not on the
    API port's allowlist (the API port does not serve it)."""
    key = (method, path)
    api_metrics = API_PORT_METRICS_ROUTES if metrics_on_api_port(metrics_port) else {}
    return (
        COMMON_PUBLIC_ROUTES.get(key)
        or api_metrics.get(key)
        or PUBLIC_ROUTES.get(service, {}).get(key)
        or OWN_CREDENTIAL_ROUTES.get(service, {}).get(key)
    )


def route_operations(app: FastAPI) -> Iterator[tuple[BaseRoute, str, str]]:
    """Every (route, method, path) the app serves, paths as the client sees them (with the
    prefixes of included routers); ``route`` is the object a request matches."""
    for context in iter_route_contexts(app.routes):
        path = context.path_format or context.path or "?"
        route = context.original_route
        default = "WEBSOCKET" if isinstance(route, (WebSocketRoute, APIWebSocketRoute)) else "*"
        for method in sorted(context.methods or {default}):
            if method != "HEAD":
                yield context.original_route, method, path


def public_routes(
    app: FastAPI, service: ServiceName, *, metrics_port: int | None = None
) -> frozenset[int]:
    """Ids of the routes all of whose operations are on the allowlist (anything else,
    including a route added after the app was built, needs a token).

    A WebSocket request matches a copy FastAPI makes of the route (rebuilt whenever routes are
    added), so WebSocket routes are recognised by their endpoint instead: its id is in the set
    when every route serving that endpoint is public."""
    verdicts: dict[int, bool] = {}
    for route, method, path in route_operations(app):
        public = public_reason(service, method, path, metrics_port=metrics_port) is not None
        keys = [id(route)]
        if method == "WEBSOCKET":
            keys.append(id(getattr(route, "endpoint", None)))
        for key in keys:
            verdicts[key] = verdicts.get(key, True) and public
    return frozenset(key for key, public in verdicts.items() if public)


def protect(app: FastAPI, service: ServiceName) -> None:
    """Called by ``create_app`` once its routers are in: fixes which routes are public and
    states the 401 answer of every other operation in the OpenAPI document.

    With ``ADX_METRICS_PORT`` set (the app's ``resources.settings``), ``create_app`` left the
    API port's ``/metrics`` route out (the runner serves the registry on that port); a route
    left there anyway would be refused here rather than served unlisted."""
    metrics_port = app_metrics_port(app)
    if not metrics_on_api_port(metrics_port):
        left = set(API_PORT_METRICS_ROUTES) & {(m, p) for _, m, p in route_operations(app)}
        if left:
            raise RuntimeError(f"ADX_METRICS_PORT is set but the API port still serves {left}")
    app.state.public_routes = public_routes(app, service, metrics_port=metrics_port)
    protected = {
        (method.lower(), path)
        for _, method, path in route_operations(app)
        if public_reason(service, method, path, metrics_port=metrics_port) is None
    }
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                if (method, path) in protected:
                    operation.setdefault("security", [{SECURITY_SCHEME: []}])
                    operation.setdefault("responses", {}).setdefault("401", UNAUTHORIZED)
        schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes.setdefault(
            SECURITY_SCHEME,
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "An access token of the auth service (docs/service-auth.md).",
            },
        )
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def app_metrics_port(app: FastAPI) -> int | None:
    """The ``ADX_METRICS_PORT`` of the process serving ``app`` (``None``: unset, or an app
    without resources)."""
    resources: Resources | None = getattr(app.state, "resources", None)
    return None if resources is None else resources.settings.metrics_port


SECURITY_SCHEME = "accessToken"
UNAUTHORIZED: dict[str, Any] = {
    "description": "No valid access token: missing, malformed, expired, forged or revoked",
    "content": {"application/problem+json": {"schema": {"type": "object"}}},
}


def _verifier(connection: HTTPConnection) -> TokenVerifier:
    return connection.app.state.token_verifier  # type: ignore[no-any-return]


async def principal_of(connection: HTTPConnection) -> Principal:
    """The verified caller of this request (verified once, then kept on the request)."""
    cached = getattr(connection.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    try:
        principal = await _verifier(connection).verify(
            bearer_token(connection.headers.get("authorization"))
        )
    except InvalidTokenError as error:
        raise UnauthorizedError(str(error)) from error
    connection.state.principal = principal
    return principal


async def authenticate(connection: HTTPConnection) -> None:
    """App-wide dependency (HTTP and WebSocket): an access token unless the matched route is on
    the allowlist."""
    route = connection.scope.get("route")
    public: frozenset[int] = getattr(connection.app.state, "public_routes", frozenset())
    if route is not None and id(route) in public:
        return
    if connection.scope["type"] == "websocket" and id(getattr(route, "endpoint", None)) in public:
        return
    await principal_of(connection)


#: A route's verified caller. Every non-public route is authenticated already; this names who.
PrincipalDep = Annotated[Principal, Depends(principal_of)]


# --- visibility rules shared with the gateway -------------------------------------------------


def may_read_profile(principal: Principal, user_id: uuid.UUID | str) -> bool:
    """Who may read whose profile: the gateway's ``user(id)`` rule (resolvers/users.py) and the
    user service's routes both ask this. Today a signed-in caller reads their own profile only;
    reading other members of the tenant arrives with the tenant directory, here, for both."""
    return principal.user_id == str(user_id)
