"""Workflow service wiring (port 8084): the Temporal UI's codec endpoint and run management
(``/runs``, docs/workflows.md); cross-service workflows arrive with their issues."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from services.common.app import create_app
from services.common.feature import Feature, routers_of
from services.common.resources import Resources
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName
from services.workflow import compliance, onboarding, reconciliation, runs
from services.workflow.codec_routes import router as codec_router
from services.workflow.runs.insights import InsightMetrics, refresh_forever

#: The payload codec endpoint for the Temporal UI.
CODEC = Feature(name="codec", router=codec_router)
FEATURES = (CODEC, runs.FEATURE, onboarding.FEATURE, reconciliation.FEATURE, compliance.FEATURE)


def create_workflow_app(resources: Resources) -> FastAPI:
    app = create_app(resources, title="ADX workflow service", routers=routers_of(FEATURES))
    origins = [o.strip() for o in resources.settings.codec_cors_origins.split(",") if o.strip()]
    # The Temporal UI calls the codec from the browser, so its origin must be allowed.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["authorization", "content-type", "x-namespace"],
    )
    # Run insights as gauges on /metrics, refreshed in the background while the app serves.
    metrics = InsightMetrics()
    app.state.insight_metrics = metrics
    app.state.metrics.registry.register(metrics)
    every = resources.settings.workflow_insights_refresh_seconds
    before = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        task = (
            asyncio.create_task(refresh_forever(resources.temporal, metrics, every))
            if every > 0
            else None
        )
        try:
            async with before(app) as state:
                yield state
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan
    return app


SPEC = ServiceSpec(
    name=ServiceName.workflow,
    title="ADX workflow service",
    features=FEATURES,
    app_factory=create_workflow_app,
)
