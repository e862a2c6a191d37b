"""Zero-trust service APIs (issue 6, finding 3): every route of every service refuses a request
without a token, with a garbage or forged one, and with the token of a revoked session, unless
services/common/principal.py lists it as public by design.

The routes are enumerated from each service's real FastAPI app (``SPEC.build_app``), never
listed here: a route added tomorrow is tested the day it appears, and fails this test unless it
is authenticated (or added to the allowlist, with its reason, for review).
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import SecretStr

from services.auth.runtime import AuthRuntime
from services.common.principal import (
    COMMON_PUBLIC_ROUTES,
    OWN_CREDENTIAL_ROUTES,
    PUBLIC_ROUTES,
    public_reason,
    route_operations,
)
from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.common.tokens import (
    JWKS_PUBLICATION_STALE_SECONDS,
    jwks_key,
    publish_jwks,
    redis_jwks,
)
from storage.db import transaction
from storage.users.repository import ProfileRepository
from tests.auth.users import AuthUser, create_user
from tests.in_process import random_ip
from tests.support import Stack

#: Every process with an HTTP app, the gateway included (its /graphql authenticates per operation
#: and is allowlisted as a route; everything else it serves is static).
SERVICES = list(ServiceName)
OPERATOR_TOKEN = "operator-secret-for-tests"
PROBLEM_JSON = "application/problem+json"


def build_app(service: ServiceName, resources: Resources) -> FastAPI:
    module = "gateway" if service == ServiceName.gateway else f"services.{service.value}"
    spec = importlib.import_module(f"{module}.service").SPEC
    return spec.build_app(resources)  # type: ignore[no-any-return]


def concrete(path: str) -> str:
    """The template with every ``{param}`` filled in (a UUID parses as any path parameter)."""
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


@dataclasses.dataclass
class Apps:
    apps: dict[ServiceName, FastAPI]
    auth: httpx.AsyncClient

    def client(self, service: ServiceName) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.apps[service], client=(random_ip(), 40000))
        return httpx.AsyncClient(transport=transport, base_url=f"http://{service.value}")


@pytest.fixture(scope="module")
async def apps(
    settings: Settings, auth_resources: Resources, user_resources: Resources
) -> AsyncIterator[Apps]:
    """Every service's app in-process; the workflow service with an operator token (so its codec
    routes answer 401, not 403 "closed"). The auth app's lifespan runs: it publishes the JWKS
    into Redis, the only place the other services read it from."""
    opened = {ServiceName.auth: auth_resources, ServiceName.user: user_resources}
    own = []
    for service in (
        ServiceName.file,
        ServiceName.workflow,
        ServiceName.tenant,
        ServiceName.gateway,
    ):
        local = settings.model_copy(update={"codec_operator_token": SecretStr(OPERATOR_TOKEN)})
        own.append(await Resources.open(local, service))
        opened[service] = own[-1]
    built = {service: build_app(service, opened[service]) for service in SERVICES}
    auth_app = built[ServiceName.auth]
    transport = httpx.ASGITransport(app=auth_app, client=(random_ip(), 40000))
    try:
        async with (
            auth_app.router.lifespan_context(auth_app),
            httpx.AsyncClient(transport=transport, base_url="http://auth") as auth,
        ):
            yield Apps(built, auth)
    finally:
        for resources in own:
            await resources.close()


async def login(apps: Apps, user: AuthUser, **extra: object) -> str:
    response = await apps.auth.post(
        "/auth/login", json={"email": user.email, "password": user.password, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()["tokens"]["access_token"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
async def tokens(apps: Apps, auth_runtime: AuthRuntime) -> dict[str, str]:
    """A valid token, a revoked one (log in, log out) and refused shapes of token."""
    user = await create_user(auth_runtime)
    valid = await login(apps, user)
    revoked = await login(apps, user)
    out = await apps.auth.post("/auth/logout", headers={"authorization": f"Bearer {revoked}"})
    assert out.status_code == 204, out.text
    claims = jwt.decode(valid, options={"verify_signature": False})
    kid = jwt.get_unverified_header(valid)["kid"]
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), "EdDSA", {"kid": kid})
    return {"valid": valid, "revoked": revoked, "forged": forged}


SCIM_JSON = "application/scim+json"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def refused_in_its_format(path: str, response: httpx.Response) -> bool:
    """A 401 is problem+json, except under ``/scim/v2``: SCIM clients read SCIM's own error
    message there (RFC 7644 section 3.12), ``application/scim+json`` with the Error schema and
    the status as a string (services/user/scim/errors.py)."""
    content_type = response.headers.get("content-type")
    if path.startswith("/scim/v2/"):
        body = response.json()
        return (
            content_type == SCIM_JSON
            and body.get("schemas") == [SCIM_ERROR]
            and body.get("status") == "401"
        )
    return content_type == PROBLEM_JSON


def refusals(tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    return {
        "no token": {},
        "garbage token": {"authorization": "Bearer garbage"},
        "not a bearer": {"authorization": "Basic dXNlcjpwdw=="},
        "forged token": {"authorization": f"Bearer {tokens['forged']}"},
        "revoked token": {"authorization": f"Bearer {tokens['revoked']}"},
    }


def test_the_allowlist_names_only_routes_that_exist(apps: Apps) -> None:
    """A stale entry would silently open the next route given that path: none may exist."""
    for service in SERVICES:
        present = {(m, p) for _, m, p in route_operations(apps.apps[service])}
        listed = {
            *PUBLIC_ROUTES.get(service, {}),
            *OWN_CREDENTIAL_ROUTES.get(service, {}),
        }
        assert listed <= present, f"{service}: allowlisted but absent: {listed - present}"
        # The common entries exist on every port (probes, metrics, OpenAPI and its viewers).
        assert set(COMMON_PUBLIC_ROUTES) <= present, service


async def test_every_route_of_every_service_refuses_callers_without_a_valid_token(
    apps: Apps, tokens: dict[str, str]
) -> None:
    checked: list[str] = []
    failures: list[str] = []
    for service in SERVICES:
        async with apps.client(service) as client:
            for route, method, path in route_operations(apps.apps[service]):
                label = f"{service.value} {method} {path}"
                if public_reason(service, method, path) is not None and (
                    (method, path) not in OWN_CREDENTIAL_ROUTES.get(service, {})
                ):
                    continue
                if not isinstance(route, APIRoute):
                    # Only APIRoutes get the app-wide dependency: anything else is open.
                    failures.append(f"{label}: not an APIRoute, so never authenticated")
                    continue
                url = concrete(path)
                for case, headers in refusals(tokens).items():
                    response = await client.request(method, url, headers=headers)
                    if response.status_code != 401 or not refused_in_its_format(path, response):
                        failures.append(f"{label} with {case}: {response.status_code}")
                checked.append(label)
    assert not failures, "\n".join(failures)
    # The enumeration found the routes this test was written against (and any newer ones).
    assert {"user GET /users/{user_id}", "user GET /users", "auth GET /auth/me"} <= set(checked)
    assert "workflow POST /codec/decode" in checked
    assert {"user GET /scim/v2/Users", "user PATCH /scim/v2/Users/{user_id}"} <= set(checked)


async def test_a_valid_token_passes_the_guard_of_every_token_route(
    apps: Apps, tokens: dict[str, str]
) -> None:
    """The other half: the guard does not refuse a good token (the route then answers as it
    would, e.g. 404 for an unknown id or 422 for a missing body)."""
    headers = {"authorization": f"Bearer {tokens['valid']}"}
    refused = []
    for service in SERVICES:
        async with apps.client(service) as client:
            for _, method, path in route_operations(apps.apps[service]):
                if public_reason(service, method, path) is not None:
                    continue
                if path in ("/auth/logout", "/auth/sessions/{session_id}"):
                    continue  # would end the session the other tests use
                response = await client.request(method, concrete(path), headers=headers)
                if response.status_code == 401:
                    refused.append(f"{service.value} {method} {path}: {response.text}")
    assert not refused, "\n".join(refused)


async def test_public_routes_answer_without_a_token(apps: Apps) -> None:
    async with apps.client(ServiceName.user) as client:
        for path in ("/health/live", "/metrics", "/openapi.json"):
            assert (await client.get(path)).status_code == 200, path
    async with apps.client(ServiceName.auth) as client:
        assert (await client.get("/.well-known/jwks.json")).status_code == 200


async def test_codec_routes_take_the_operator_token_not_a_user_token(
    apps: Apps, tokens: dict[str, str]
) -> None:
    async with apps.client(ServiceName.workflow) as client:
        as_user = await client.post(
            "/codec/decode",
            json={"payloads": []},
            headers={"authorization": f"Bearer {tokens['valid']}"},
        )
        as_operator = await client.post(
            "/codec/decode",
            json={"payloads": []},
            headers={"authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
    assert as_user.status_code == 401
    assert as_operator.status_code == 200, as_operator.text


# --- the user service applies the gateway's rule ---------------------------------------------


async def make_profile(resources: Resources, user: AuthUser) -> None:
    async with transaction(resources.database) as session:
        await ProfileRepository(session).create(
            id_=user.id, email=user.email, display_name="P", idempotency_key=f"t:{user.id}"
        )


async def test_user_routes_show_only_what_the_gateway_would(
    apps: Apps, auth_runtime: AuthRuntime, user_resources: Resources
) -> None:
    """Own profile: yes. Another user's, in the same tenant or another one: answered exactly
    like an unknown id (404, or absent from the batch), so ids cannot be probed either."""
    tenant, other_tenant = uuid.uuid4(), uuid.uuid4()
    alice = await create_user(auth_runtime, tenant_roles={tenant: ["member"]})
    bob = await create_user(auth_runtime, tenant_roles={tenant: ["member"]})
    carol = await create_user(auth_runtime, tenant_roles={other_tenant: ["owner"]})
    for user in (alice, bob, carol):
        await make_profile(user_resources, user)
    alice_token = await login(apps, alice, tenant_id=str(tenant))
    mfa_audience = auth_runtime.issuer.mfa_token(
        user_id=str(alice.id), tenant_id=None, attempt=str(uuid.uuid4())
    )
    as_alice = {"authorization": f"Bearer {alice_token}"}

    async with apps.client(ServiceName.user) as client:
        own = await client.get(f"/users/{alice.id}", headers=as_alice)
        same_tenant = await client.get(f"/users/{bob.id}", headers=as_alice)
        other_tenant_user = await client.get(f"/users/{carol.id}", headers=as_alice)
        unknown = await client.get(f"/users/{uuid.uuid4()}", headers=as_alice)
        batch = await client.get(
            "/users", params={"ids": [str(alice.id), str(bob.id), str(carol.id)]}, headers=as_alice
        )
        others_only = await client.get(
            "/users", params={"ids": [str(bob.id), str(carol.id)]}, headers=as_alice
        )
        partial_token = await client.get(
            f"/users/{alice.id}", headers={"authorization": f"Bearer {mfa_audience}"}
        )

    assert own.status_code == 200 and own.json()["email"] == alice.email
    assert unknown.status_code == 404
    for refused, user in ((same_tenant, bob), (other_tenant_user, carol)):
        assert refused.status_code == 404
        assert refused.json() == {**unknown.json(), "detail": f"user {user.id} not found"}
    assert [row["id"] for row in batch.json()] == [str(alice.id)]
    assert others_only.status_code == 200 and others_only.json() == []
    assert partial_token.status_code == 401, "an MFA partial token is no access token"


# --- JWKS through Redis ----------------------------------------------------------------------


async def test_services_verify_with_the_jwks_auth_published_in_redis(
    apps: Apps, tokens: dict[str, str], user_resources: Resources
) -> None:
    """The user service knows auth's keys only through Redis: with the publication gone (and its
    cache expired) a valid token is refused, and it is accepted again once auth republishes."""
    redis, keys = user_resources.redis, user_resources.redis_keys
    published = {str(k): str(v) for k, v in (await redis.hgetall(jwks_key(keys))).items()}
    assert published, "the auth app publishes its JWKS at start-up"
    fresh_app = build_app(ServiceName.user, user_resources)  # an empty JWKS cache
    headers = {"authorization": f"Bearer {tokens['valid']}"}
    transport = httpx.ASGITransport(app=fresh_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://user") as client:
        await redis.delete(jwks_key(keys))
        try:
            without = await client.get(
                "/users", params={"ids": [str(uuid.uuid4())]}, headers=headers
            )
        finally:
            for field, value in published.items():
                await redis.hset(jwks_key(keys), field, value)
        fresh_app.state.token_verifier.jwks._fetched_at = 0.0  # skip the 1 s refresh interval
        again = await client.get("/users", params={"ids": [str(uuid.uuid4())]}, headers=headers)

    assert without.status_code == 401 and without.json()["detail"] == "unknown signing key"
    assert again.status_code == 200, again.text


async def test_a_stale_publication_no_longer_counts(user_resources: Resources) -> None:
    redis, keys = user_resources.redis, user_resources.redis_keys
    local = type(keys)(f"{keys.prefix}-stale-{uuid.uuid4().hex[:6]}")
    old = {"keys": [{"kid": "old", "kty": "OKP", "crv": "Ed25519", "x": "AA"}]}
    new = {"keys": [{"kid": "new", "kty": "OKP", "crv": "Ed25519", "x": "AA"}]}
    now = time.time()
    await publish_jwks(redis, local, "a", old, now=now - JWKS_PUBLICATION_STALE_SECONDS - 5)
    await publish_jwks(redis, local, "b", new, now=now)
    merged = await redis_jwks(redis, local)()
    remaining = await redis.hkeys(jwks_key(local))
    await redis.delete(jwks_key(local))

    assert [k["kid"] for k in merged["keys"]] == ["new"]
    assert remaining == ["b"], "a stale publisher's entry is removed by the next publication"


# --- real processes ----------------------------------------------------------------------------


async def test_user_service_over_real_processes(stack: Stack, auth_runtime: AuthRuntime) -> None:
    """The black-box probe of the issue: :8082 answered e-mail and name to anyone. Now: the
    token the real auth process issued is verified by the real user process (JWKS via Redis),
    and refused once its session is revoked."""
    user = await create_user(auth_runtime)
    url = stack.url(ServiceName.user, f"/users/{user.id}")
    listing = stack.url(ServiceName.user, "/users")
    async with httpx.AsyncClient() as client:
        logged_in = await client.post(
            stack.url(ServiceName.auth, "/auth/login"),
            json={"email": user.email, "password": user.password},
        )
        token = logged_in.json()["tokens"]["access_token"]
        bearer = {"authorization": f"Bearer {token}"}
        anonymous = await client.get(url)
        garbage = await client.get(
            listing, params={"ids": [str(user.id)]}, headers={"authorization": "Bearer x"}
        )
        signed_in = await client.get(listing, params={"ids": [str(user.id)]}, headers=bearer)
        await client.post(stack.url(ServiceName.auth, "/auth/logout"), headers=bearer)
        revoked = await client.get(listing, params={"ids": [str(user.id)]}, headers=bearer)

    for refused in (anonymous, garbage, revoked):
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == PROBLEM_JSON
        assert refused.headers["www-authenticate"] == "Bearer"
    assert signed_in.status_code == 200, signed_in.text
    assert "revoked" in revoked.json()["detail"]


def test_openapi_states_the_token_requirement(apps: Apps) -> None:
    document = apps.apps[ServiceName.user].openapi()
    operation = document["paths"]["/users/{user_id}"]["get"]
    assert operation["security"] == [{"accessToken": []}]
    assert "401" in operation["responses"]
    assert document["components"]["securitySchemes"]["accessToken"]["scheme"] == "bearer"
    assert "security" not in document["paths"]["/health/live"]["get"]


def test_make_run_gives_the_temporal_ui_the_codec_only_when_opted_out(tmp_path: Path) -> None:
    """The dev server's UI cannot send the operator token: it gets the codec endpoint only with
    the explicit development opt-out, and the banner says how to get there."""
    from services.devstack.catalog import PLATFORM_SERVICES, SETUP_STEPS
    from services.devstack.launcher import DevConfig, DevStack

    def stack(env: dict[str, str]) -> DevStack:
        config = DevConfig.from_env(env, data_dir=tmp_path)
        launched = DevStack(config, env, PLATFORM_SERVICES, SETUP_STEPS)
        launched.temporal_ui = "http://localhost:8088"
        return launched

    closed, opened = stack({}), stack({"ADX_CODEC_OPEN_IN_DEVELOPMENT": "true"})

    assert closed.codec_endpoint() is None
    assert "ADX_CODEC_OPEN_IN_DEVELOPMENT=true make run" in closed.banner()
    assert opened.codec_endpoint() == "http://localhost:8084/codec"
    assert "ADX_CODEC_OPEN_IN_DEVELOPMENT" not in opened.banner()
