"""FastAPI app factory shared by every service: error model, health, metrics, request context,
and authentication of every route (services/common/principal.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.errors import install_error_handlers
from services.common.health import HttpMetrics, MetricsMiddleware, health_router
from services.common.metrics import ResourceMetrics
from services.common.middleware import (
    BodySizeLimitMiddleware,
    JsonBodyGuardMiddleware,
    RequestContextMiddleware,
    StreamedPaths,
)
from services.common.openapi import document_problems
from services.common.principal import authenticate, protect
from services.common.resources import Resources
from services.common.tokens import redis_verifier
from services.common.tracing import instrument_app


def create_app(
    resources: Resources,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    version: str = "0.1.0",
    streamed_paths: Sequence[str] = (),
) -> FastAPI:
    """One HTTP app over already-open resources (the process owns their lifecycle).

    Every route requires a valid access token unless ``services.common.principal`` lists it as
    public by design: the dependency sits on the app, so no router or route can forget it.
    ``streamed_paths``: upload routes exempt from ``ADX_MAX_BODY_BYTES`` (they stream to
    storage under limits of their own; ``BodySizeLimitMiddleware``)."""
    app = FastAPI(title=title, version=version, dependencies=[Depends(authenticate)])
    app.state.resources = resources
    # JWKS and session deny-list from Redis (the auth service replaces it by its own keys).
    app.state.token_verifier = redis_verifier(
        resources.settings, resources.redis, resources.redis_keys
    )
    app.state.metrics = HttpMetrics(resources.service.value)
    # Database and Redis pool gauges, read at each scrape (services/common/metrics.py).
    app.state.metrics.registry.register(
        ResourceMetrics(
            resources.service.value, resources.engine, resources.redis, resources.settings.data_dir
        )
    )
    install_error_handlers(app)
    # With ADX_METRICS_PORT set the runner serves /metrics on that port, not on the API port.
    app.include_router(health_router(api_metrics=resources.settings.metrics_port is None))
    for router in routers:
        app.include_router(router)
    protect(app, resources.service)
    document_problems(app)  # every error response as problem+json (services/common/openapi.py)
    streamed = StreamedPaths(streamed_paths)
    # inside the size limit: buffers at most that
    app.add_middleware(JsonBodyGuardMiddleware, streamed=streamed)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=resources.settings.max_body_bytes,
        streamed=streamed,
    )
    app.add_middleware(RequestContextMiddleware)
    instrument_app(app)
    return app


def get_resources(request: Request) -> Resources:
    return request.app.state.resources  # type: ignore[no-any-return]


def get_database(request: Request) -> async_sessionmaker[AsyncSession]:
    return get_resources(request).database


ResourcesDep = Annotated[Resources, Depends(get_resources)]
DatabaseDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_database)]
