"""Schema extensions: outages become ``SERVICE_UNAVAILABLE`` and name suggestions can be
stripped (both built on strawberry's ``MaskErrors`` plumbing, so streamed and subscription
results are handled like single ones); fresh DataLoaders per operation; operations parsed and
validated once per process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import suppress

import httpx
from graphql import GraphQLError
from limits.errors import StorageError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.schema import validate_document
from temporalio.service import RPCError, RPCStatusCode

from gateway.service_clients import ServiceUnavailable
from schema.errors import OUTAGE_RETRY_AFTER, SERVICE_UNAVAILABLE, UserFacingError
from schema.limits import DOCUMENTS, MAX_TOKENS

OUTAGE_MESSAGE = "A service this request needs is unavailable right now; try again shortly."

#: Temporal answers meaning "not reachable or not answering", as opposed to a refusal.
_RPC_OUTAGES = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
)
#: Exceptions meaning a dependency (Redis, a service, Temporal, the network) is down or stalled.
_OUTAGES: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    StorageError,
    httpx.TransportError,
    ServiceUnavailable,
    TimeoutError,
    ConnectionError,
)


def is_outage(error: BaseException | None) -> bool:
    """Whether ``error``, or anything in its cause chain, says a dependency is unreachable."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, _OUTAGES):
            return True
        if isinstance(error, RPCError) and error.status in _RPC_OUTAGES:
            return True
        error = error.__cause__ or error.__context__
    return False


def _raised_by_an_outage(error: GraphQLError) -> bool:
    original = error.original_error
    return not isinstance(original, UserFacingError) and is_outage(original)


class ServiceUnavailableErrors(MaskErrors):
    """An outage raised from any resolver (Redis timing out, Temporal or a service unreachable)
    reaches the client as ``SERVICE_UNAVAILABLE`` with a generic message, in every environment:
    never the internal text ("Timeout reading from 127.0.0.1:6379", "tcp connect error")."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_raised_by_an_outage, error_message=OUTAGE_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(
            self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,  # nothing internal left: MaskErrors lets it through as is
            extensions={"code": SERVICE_UNAVAILABLE, "retryAfter": OUTAGE_RETRY_AFTER},
        )


#: graphql-core writes " Did you mean 'x', 'y' or 'z'?" (one space before, a few short names).
#: Literal first and bounded: no whitespace run or missing "?" makes the search quadratic.
_SUGGESTION = re.compile(r" ?Did you mean [^?]{0,500}\?")


class NoSuggestions(MaskErrors):
    """Drops graphql-core's "Did you mean 'me'?" from error messages: suggestions let anyone
    map a schema whose introspection is off."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: "Did you mean" in error.message)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(
            _SUGGESTION.sub("", error.message),
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=error.original_error,
            extensions=error.extensions,
        )


class FreshLoaders(SchemaExtension):
    """Every operation starts with empty DataLoaders (``GatewayContext.fresh_loaders``): an HTTP
    request's context is its own already, but a WebSocket connection's lives as long as the
    connection, and its later operations must not be answered from an earlier one's cache."""

    def on_operation(self) -> Iterator[None]:
        fresh = getattr(self.execution_context.context, "fresh_loaders", None)
        if fresh is not None:
            fresh()
        yield


class CachedDocuments(SchemaExtension):
    """Parse and validate each operation text once per process (``schema.limits.DOCUMENTS``):
    the same document for the same text, the same validation errors for the same document,
    schema and rules. Listed after ``QueryCostLimiter``, whose estimate depends on the
    variables and so runs every time; a text that does not parse is left to strawberry, which
    answers its syntax error."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if (
            context.graphql_document is None
            and isinstance(context.query, str)
            and context.parse_options == {"max_tokens": MAX_TOKENS}
        ):
            with suppress(GraphQLError):
                context.graphql_document = DOCUMENTS.document(context.query)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if context.pre_execution_errors is None and document is not None and context.query:
            schema, rules = context.schema._schema, context.validation_rules
            context.pre_execution_errors = DOCUMENTS.errors(
                context.query,
                document,
                (schema, rules),
                lambda: validate_document(schema, document, rules),
            )
        yield
