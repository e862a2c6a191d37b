"""Workflow service wiring (port 8084): the Temporal UI's codec endpoint; cross-service
workflows arrive with their issues."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from services.common.app import create_app
from services.common.feature import Feature, routers_of
from services.common.resources import Resources
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName
from services.workflow.codec_routes import router as codec_router

#: The payload codec endpoint for the Temporal UI.
CODEC = Feature(name="codec", router=codec_router)
FEATURES = (CODEC,)


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
    return app


SPEC = ServiceSpec(
    name=ServiceName.workflow,
    title="ADX workflow service",
    features=FEATURES,
    app_factory=create_workflow_app,
)
