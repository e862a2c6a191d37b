"""The gateway's ``/graphql`` router: every operation passes the rate limiter (``rate_limit``)
before the schema parses it, over HTTP and graphql-transport-ws alike."""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import suppress
from typing import Any, cast

from cross_web import HTTPException
from graphql import GraphQLError, OperationDefinitionNode, OperationType
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
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
from gateway.subscriptions import token_expiry
from schema.errors import UserFacingError
from schema.limits import DOCUMENTS
from services.common import json_input
from services.common.errors import problem
from services.common.logging import get_logger
from services.common.tokens import InvalidTokenError

_log = get_logger(__name__)

_TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 422: "Invalid input"}


class RateLimitedTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws where opening a connection (``connection_init``) counts as a request
    of whoever it signs in as, and so does every ``subscribe`` (subscription, query or mutation).
    A refused connection is closed with 4429; a refused ``subscribe`` gets an ``error`` message,
    like strawberry's own per-connection limit, and the connection stays open.

    Beside that (docs/gateway.md, "Subscriptions"): a ``connection_init`` whose bearer token is
    not valid is closed with 4401 (no token: an anonymous connection, for run access tokens);
    the gateway pings every ``ADX_SUBSCRIPTION_PING_SECONDS`` once acknowledged; a signed-in
    user's subscriptions are capped gateway-wide (``ADX_SUBSCRIPTION_MAX_PER_USER``, leases in
    Redis renewed with each ping): one more closes the socket with 4429; and when the token's
    ``exp`` passes the socket is closed with 4401 "Token expired" (every subscription on it
    ends and releases its lease; the client reconnects with a fresh token)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._user_id: str | None = None
        self._leases: dict[Operation[Any, Any], str] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload", {})
        context: GatewayContext = self.context
        first = not self.connection_init_received and isinstance(payload, dict)
        expires: float | None = None
        if first:
            context.connection_params = payload  # who the connection signs in as
            refusal = await context.state.rate_limiter.check(context, [(None, None)])
            if refusal is not None:
                reason = refusal.error().message
                await self._close_before_ack(4429, reason)
                return
            if context.authorization:
                try:
                    principal = await context.principal()
                except InvalidTokenError as error:
                    await self._close_before_ack(4401, f"Unauthorized: {error}")
                    return
                except Exception as error:  # JWKS or the deny-list unreachable: try again
                    _log.warning("ws_token_check_failed", error=repr(error))
                    await self._close_before_ack(1011, "Try again later")
                    return
                self._user_id = principal.user_id
                expires = token_expiry(context.authorization)
        await super().handle_connection_init(message)
        if first and self.connection_acknowledged:
            self._start(self._heartbeat())
            if expires is not None:
                self._start(self._end_at(expires))

    async def _close_before_ack(self, code: int, reason: str) -> None:
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        await self.websocket.close(code=code, reason=reason.encode()[:123].decode(errors="ignore"))

    def _start(self, work: Any) -> None:
        task = asyncio.create_task(work)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    async def _heartbeat(self) -> None:
        """Ping every ``ADX_SUBSCRIPTION_PING_SECONDS`` and renew this socket's leases."""
        context: GatewayContext = self.context
        while True:
            await asyncio.sleep(context.state.settings.subscription_ping_seconds)
            try:
                await self.send_message({"type": "ping"})
            except Exception:  # the socket is gone: its leases go with the shutdown
                return
            try:
                if self._user_id is not None and self._leases:
                    await context.state.subscriptions.renew(
                        self._user_id, list(self._leases.values())
                    )
            except Exception as error:  # Redis: the leases lapse unless a later renewal works
                _log.warning("subscription_lease_renewal_failed", error=repr(error))

    async def _end_at(self, expires: float) -> None:
        await asyncio.sleep(max(0.0, expires - time.time()))
        await self.websocket.close(code=4401, reason="Token expired")

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        lease: str | None = None
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
            if (
                self._user_id is not None
                and message.get("id") not in self.operations
                and _is_subscription(payload.get("query"), payload.get("operationName"))
            ):
                lease = uuid.uuid4().hex
                if not await context.state.subscriptions.acquire(self._user_id, lease):
                    cap = context.state.subscriptions.cap
                    reason = f"Too many subscriptions: at most {cap} per user"
                    await self.websocket.close(code=4429, reason=reason)
                    return
        await super().handle_subscribe(message)
        if lease is not None:
            operation = self.operations.get(message["id"])
            if operation is not None:
                self._leases[operation] = lease
            else:
                await self._release(lease)

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        try:
            await super().run_operation(operation)
        finally:
            lease = self._leases.pop(operation, None)
            if lease is not None:
                await self._release(lease)

    async def _release(self, lease: str) -> None:
        if self._user_id is None:
            return
        with suppress(Exception):  # else it lapses
            await self.context.state.subscriptions.release(self._user_id, lease)

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await super().shutdown()
        for task in self._tasks:
            with suppress(Exception, asyncio.CancelledError):
                await task
        for lease in list(self._leases.values()):  # operations cancelled before they started
            await self._release(lease)
        self._leases.clear()


def _is_subscription(query: Any, operation_name: Any) -> bool:
    """Whether the operation ``subscribe`` runs is a subscription (queries and mutations over
    the socket hold no lease); unparsable text is left to the schema to refuse."""
    if not isinstance(query, str):
        return False
    try:
        document = DOCUMENTS.document(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if isinstance(operation_name, str) and operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    return len(operations) == 1 and operations[0].operation == OperationType.SUBSCRIPTION


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


#: Longest error message the gateway answers (longer ones are cut, see ``process_result``).
MAX_ERROR_MESSAGE = 512


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

    async def process_result(self, request: Any, result: Any) -> Any:
        """Error messages answered at most ``MAX_ERROR_MESSAGE`` characters: graphql-core's
        coercion errors quote the value given (a megabyte enum variable would come back whole)."""
        answer = cast("dict[str, Any]", await super().process_result(request, result))
        for error in answer.get("errors") or ():
            message = error.get("message")
            if isinstance(message, str) and len(message) > MAX_ERROR_MESSAGE:
                error["message"] = message[:MAX_ERROR_MESSAGE] + " ... (truncated)"
        return answer

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
