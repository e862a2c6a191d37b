"""Auth service wiring: every capability's routes on 8081, its workflows and activities on
``adx-auth``. A capability is one package with a ``FEATURE`` (``services/common/feature.py``),
listed in ``FEATURES``; nothing else needs to change."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from fastapi import FastAPI

from services.auth import (
    accounts,
    bulk_import,
    compliance,
    mfa,
    onboarding,
    password_reset,
    principal,
    profile_copies,
    reconciliation,
    registration,
    sso,
    switching,
)
from services.auth.routes import router as core_router
from services.auth.runtime import runtime_for
from services.auth.signing_keys import JwksPublisher, SigningKeyMetrics
from services.auth.switching.switch import bookkeeping_for
from services.common.app import create_app
from services.common.feature import Feature, routers_of
from services.common.resources import Resources
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName

#: Sign-in, refresh, sign-out, sessions and keys (routes only).
CORE = Feature(name="core", router=core_router)
FEATURES: Sequence[Feature] = (
    CORE,
    accounts.FEATURE,
    registration.FEATURE,
    principal.FEATURE,
    password_reset.FEATURE,
    mfa.FEATURE,
    sso.FEATURE,
    switching.FEATURE,
    onboarding.FEATURE,
    profile_copies.FEATURE,
    reconciliation.FEATURE,
    bulk_import.FEATURE,
    compliance.FEATURE,
)


def create_auth_app(resources: Resources) -> FastAPI:
    # An invalid SSO provider setting stops an HTTP-only process at start too, naming it.
    sso.config.providers_of(resources.settings)
    app = create_app(resources, title="ADX auth service", routers=routers_of(FEATURES))
    app.state.auth = runtime = runtime_for(resources)
    # Routes are authenticated with the keys themselves; the JWKS goes to Redis for the others.
    app.state.token_verifier = runtime.verifier
    app.state.metrics.registry.register(SigningKeyMetrics(runtime.keys))  # the key's age
    publisher = JwksPublisher(runtime.keys, resources.redis, resources.redis_keys)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with publisher.running():
            try:
                yield
            finally:
                # Switches merged into a trailing tenant_switching run are started, not lost.
                await bookkeeping_for(runtime).drain()

    app.router.lifespan_context = lifespan
    return app


SPEC = ServiceSpec(
    name=ServiceName.auth,
    title="ADX auth service",
    features=FEATURES,
    app_factory=create_auth_app,
)
