"""Gateway wiring: Strawberry at ``/graphql`` (GraphiQL, graphql-transport-ws) on port 8080."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gateway.apq import PersistedQueries, load_manifest
from gateway.auth import gateway_verifier
from gateway.context import GatewayState, get_context
from gateway.graphiql import mount_graphiql
from gateway.idempotency import Idempotency
from gateway.pages import mount_pages
from gateway.progress_relay import ProgressRelay, RelayMetrics
from gateway.rate_limit import RateLimiter
from gateway.router import RateLimitedGraphQLRouter
from gateway.run_access import RunAccess
from gateway.service_clients import RequestDeadline, RoutingMetrics, ServiceClients
from gateway.started_runs import with_started_runs
from gateway.subscriptions import SubscriptionLeases
from schema.limits import DocumentCacheMetrics
from schema.metrics import GraphQLMetrics
from schema.schema import build_schema
from services.common.app import create_app
from services.common.resources import Resources
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName, Settings
from services.common.temporal import with_rpc_deadline


def on_unless_production(switch: bool | None, settings: Settings) -> bool:
    """An explicit setting wins; unset means on, except in production and staging."""
    return switch if switch is not None else not settings.is_production


def create_gateway_app(resources: Resources) -> FastAPI:
    settings = resources.settings
    services = ServiceClients(settings)
    # Requests wait for Temporal at most this long, then answer SERVICE_UNAVAILABLE.
    # Its starts recorded, so a mutation answers its run from the start (gateway/started_runs.py).
    temporal = with_started_runs(
        with_rpc_deadline(resources.temporal, settings.temporal_rpc_deadline_seconds)
    )
    run_access = RunAccess.from_settings(settings)
    state = GatewayState(
        settings=settings,
        temporal=temporal,
        services=services,
        relay=ProgressRelay(
            temporal,
            resources.redis,
            resources.redis_keys,
            settings.progress_poll_seconds,
            # The key sealing cached final states: derived from the run-access secret.
            cache_key=base64.urlsafe_b64decode(run_access.digest(b"final-state-cache") + "="),
        ),
        verifier=gateway_verifier(settings, services.auth, resources.redis, resources.redis_keys),
        run_access=run_access,
        rate_limiter=RateLimiter(settings, resources.redis, resources.redis_keys),
        idempotency=Idempotency(
            resources.redis,
            resources.redis_keys,
            settings.idempotency_ttl_seconds,
            run_access.digest,
        ),
        persisted_queries=PersistedQueries(
            resources.redis,
            resources.redis_keys,
            settings.graphql_persisted_query_ttl_seconds,
            registered_only=settings.graphql_persisted_queries_only,
            manifest=(
                load_manifest(settings.graphql_operations_manifest)
                if settings.graphql_operations_manifest
                else None
            ),
        ),
        subscriptions=SubscriptionLeases(
            resources.redis,
            resources.redis_keys,
            settings.subscription_max_per_user,
            # Renewed with every ping: three missed renewals (a crashed replica) and it lapses.
            lease_seconds=max(3 * settings.subscription_ping_seconds, 10.0),
        ),
    )
    graphiql = on_unless_production(settings.graphiql, settings)
    graphql_metrics = GraphQLMetrics()
    graphql = RateLimitedGraphQLRouter(
        build_schema(
            mask_errors=settings.is_production,
            introspection=on_unless_production(settings.graphql_introspection, settings),
            suggestions=on_unless_production(settings.graphql_suggestions, settings),
            max_cost=settings.graphql_max_cost,
            metrics=graphql_metrics,
        ),
        context_getter=get_context,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        graphql_ide="graphiql" if graphiql else None,
        path="/graphql",
    )
    # Included by create_app, so services/common/principal.py sees /graphql among the routes it
    # makes public (the gateway authenticates each operation itself).
    app = create_app(resources, title="ADX GraphQL gateway", routers=[graphql])
    app.state.gateway = state
    # Breaker states, instance readiness and retries (gateway/service_clients.py).
    app.state.metrics.registry.register(RoutingMetrics(services))
    app.state.metrics.registry.register(graphql_metrics)  # per root field (schema/metrics.py)
    app.state.metrics.registry.register(RelayMetrics(state.relay))
    app.state.metrics.registry.register(DocumentCacheMetrics())
    app.add_middleware(RequestDeadline, seconds=settings.request_deadline_seconds)
    if graphiql:
        mount_graphiql(app)  # GraphiQL's own assets, served locally: works offline
    mount_pages(app)  # the pages the mailed verify/reset links open (gateway/pages.py)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await state.services.start()  # names resolved, instance checks running
        yield
        await state.relay.aclose()
        await state.services.aclose()

    app.router.lifespan_context = lifespan
    return app


SPEC = ServiceSpec(
    name=ServiceName.gateway, title="ADX GraphQL gateway", app_factory=create_gateway_app
)
