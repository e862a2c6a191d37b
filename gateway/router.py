"""The gateway's ``/graphql`` router: every operation passes the rate limiter (``rate_limit``)
before the schema parses it, over HTTP and graphql-transport-ws alike."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from gateway.context import GatewayContext
from gateway.graphiql import OfflineGraphQLRouter
from gateway.rate_limit import RateLimitExceeded
from schema.errors import UserFacingError
from services.common import json_input
from services.common.errors import problem

_TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 422: "Invalid input"}


class RateLimitedTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws where opening a connection (``connection_init``) counts as a request
    of whoever it signs in as, and so does every ``subscribe`` (subscription, query or mutation).
    A refused connection is closed with 4429; a refused ``subscribe`` gets an ``error`` message,
    like strawberry's own per-connection limit, and the connection stays open."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload", {})
        if not self.connection_init_received and isinstance(payload, dict):
            context: GatewayContext = self.context
            context.connection_params = payload  # who the connection signs in as
            refusal = await context.state.rate_limiter.check(context, [(None, None)])
            if refusal is not None:
                if self.connection_init_timeout_task:
                    self.connection_init_timeout_task.cancel()
                reason = refusal.error().message.encode()[:123].decode(errors="ignore")
                await self.websocket.close(code=4429, reason=reason)
                return
        await super().handle_connection_init(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged:  # else the base class closes the socket (4401)
            payload: Any = message.get("payload")
            if not isinstance(payload, dict):
                payload = {}
            context: GatewayContext = self.context
            persisted = await _persisted_query(context, payload)
            refusal = await context.state.rate_limiter.check(
                context, [(payload.get("query"), payload.get("operationName"))]
            )
            error = refusal.error() if refusal is not None else persisted
            if error is not None:
                await self.send_message(
                    {"id": message["id"], "type": "error", "payload": [error.formatted]}
                )
                return
        await super().handle_subscribe(message)


async def _persisted_query(context: GatewayContext, payload: dict[str, Any]) -> Any:
    """Resolve a ``subscribe`` payload's persisted query in place; the error to answer, if any."""
    query, extensions = payload.get("query"), payload.get("extensions")
    if not isinstance(extensions, dict) or not isinstance(query, str | None):
        return None
    data = GraphQLRequestData(
        query=query, variables=None, operation_name=None, extensions=extensions
    )
    try:
        await context.state.persisted_queries.resolve(data)
    except UserFacingError as error:
        return error
    payload["query"] = data.query
    return None


class RateLimitedGraphQLRouter(OfflineGraphQLRouter):
    """The gateway's ``/graphql``: every operation counts before it is parsed by the schema; the
    GraphiQL page (GET with Accept: text/html) does not.

    A request that is no GraphQL request at all (not JSON, not UTF-8, nested too deep, a top
    level that is no object, no query) is refused by the HTTP layer with 400 problem+json, a lone
    surrogate (JSON, but not text) with 422 problem+json, like every service; once it is a
    GraphQL request, errors are GraphQL-shaped (docs/gateway.md, "Malformed requests")."""

    graphql_transport_ws_handler_class = RateLimitedTransportWSHandler

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        except RateLimitExceeded as exceeded:
            return exceeded.refusal.http_response()
        except HTTPException as error:  # strawberry answers these as text/plain
            return problem(
                error.status_code, _TITLES.get(error.status_code, "HTTP error"), error.reason
            )

    def should_render_graphql_ide(self, request: Any) -> bool:
        """Not for a GET naming a persisted query (``extensions`` and no ``query``): Apollo
        clients send those with ``Accept: */*``, which would otherwise get the GraphiQL page."""
        if request.method == "GET" and "extensions" in request.query_params:
            return False
        return bool(super().should_render_graphql_ide(request))

    def decode_json(self, data: str | bytes) -> object:
        """Every JSON the view reads (POST body, GET ``variables``, WebSocket messages) is
        checked for encoding, depth and lone surrogates first (services/common/json_input.py)."""
        return json_input.loads(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return self.decode_json(data)
        except json_input.MalformedJsonError as error:
            raise HTTPException(error.problem.status, error.msg) from error
        except ValueError as error:  # JSONDecodeError
            raise HTTPException(400, "Unable to parse request body as JSON") from error

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "POST" and "json" in (request.content_type or ""):
            body = await request.get_body()  # cached by Starlette: parsed once below
            if not bytes(body).lstrip()[:1] == b"{":
                raise HTTPException(400, "A GraphQL request body must be a JSON object.")
        return await super().parse_http_body(request)

    async def execute_operation(  # type: ignore[override]
        self,
        request: Any,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: GatewayContext,
        root_value: Any,
        sub_response: Any,
    ) -> Any:
        operations = request_data if isinstance(request_data, list) else [request_data]
        persisted: UserFacingError | None = None
        for data in operations:  # the query a persisted-query hash names (gateway/apq.py)
            try:
                await context.state.persisted_queries.resolve(data)
            except UserFacingError as error:
                persisted = persisted or error
        refusal = await context.state.rate_limiter.check(
            context, [(data.query, data.operation_name) for data in operations]
        )
        if refusal is not None:
            raise RateLimitExceeded(refusal)
        if persisted is not None:
            return ExecutionResult(data=None, errors=[persisted])
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )
