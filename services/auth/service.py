"""Auth service wiring: every capability's routes on 8081, its workflows and activities on
``adx-auth``. Capabilities register in ``FEATURES``; nothing else needs to change."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI

from services.auth import mfa, password_reset, principal, registration, sso
from services.auth.activities import AuthActivities
from services.auth.feature import Feature
from services.auth.keys import JwksPublisher
from services.auth.routes import router as core_router
from services.auth.runtime import AuthRuntime, runtime_for
from services.common.app import create_app
from services.common.resources import Resources
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName
from workflows.auth.user_registration import UserRegistrationWorkflow

CORE = Feature(
    name="core",
    router=core_router,
    workflows=[UserRegistrationWorkflow],
    activities=lambda runtime: AuthActivities(runtime).all(),
)
FEATURES: Sequence[Feature] = (
    CORE,
    registration.FEATURE,
    principal.FEATURE,
    password_reset.FEATURE,
    mfa.FEATURE,
    sso.FEATURE,
)


def create_auth_app(resources: Resources) -> FastAPI:
    # An invalid SSO provider setting stops an HTTP-only process at start too, naming it.
    sso.config.providers_of(resources.settings)
    routers = [f.router for f in FEATURES if f.router is not None]
    app = create_app(resources, title="ADX auth service", routers=routers)
    app.state.auth = runtime = runtime_for(resources)
    # Routes are authenticated with the keys themselves; the JWKS goes to Redis for the others.
    app.state.token_verifier = runtime.verifier
    app.router.lifespan_context = JwksPublisher(
        runtime.keys, resources.redis, resources.keys
    ).running
    return app


def all_activities(resources: Resources) -> list[Callable[..., Any]]:
    runtime: AuthRuntime = runtime_for(resources)
    return [activity for f in FEATURES for activity in f.activities(runtime)]


SPEC = ServiceSpec(
    name=ServiceName.auth,
    title="ADX auth service",
    workflows=[w for f in FEATURES for w in f.workflows],
    activities=all_activities,
    app_factory=create_auth_app,
)
