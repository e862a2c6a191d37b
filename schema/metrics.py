"""GraphQL operations as Prometheus series: count, errors and latency per root field.

The ``operation`` label is the root field an operation selects (``signUp``, ``user``,
``workflowProgress``, …), checked against the schema's root type, so the label set is bounded
by the schema whatever clients send (their operation names are free text, so they are never a
label); a document that does not parse or names no known field counts as ``invalid``."""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import FieldNode, GraphQLObjectType, OperationDefinitionNode
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from strawberry.extensions import SchemaExtension

INVALID = "invalid"
#: Root fields recorded per operation at most (aliases make one operation select many).
MAX_FIELDS = 10


class GraphQLMetrics(Collector):
    """The series, in a registry of their own that this collector yields into the app's."""

    def __init__(self) -> None:
        self._registry = CollectorRegistry(auto_describe=True)
        self.operations = Counter(
            "adx_graphql_operations_total",
            "GraphQL operations by root field, type and outcome (ok, error).",
            ["operation", "type", "outcome"],
            registry=self._registry,
        )
        self.latency = Histogram(
            "adx_graphql_operation_duration_seconds",
            "GraphQL operation latency by root field and type (subscriptions: to the first result).",
            ["operation", "type"],
            registry=self._registry,
        )

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()

    def record(self, fields: list[str], kind: str, ok: bool, seconds: float) -> None:
        outcome = "ok" if ok else "error"
        for name in fields:
            self.operations.labels(name, kind, outcome).inc()
            self.latency.labels(name, kind).observe(seconds)


def _root_fields(extension: SchemaExtension) -> tuple[list[str], str]:
    context = extension.execution_context
    document = context.graphql_document
    schema = context.schema._schema
    if document is None:
        return [INVALID], "unknown"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        d
        for d in operations
        if context.operation_name is None or (d.name and d.name.value == context.operation_name)
    ]
    if not chosen:
        return [INVALID], "unknown"
    operation = chosen[0]
    kind = operation.operation.value
    root: GraphQLObjectType | None = schema.get_root_type(operation.operation)
    names: list[str] = []
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode) and len(names) < MAX_FIELDS:
            name = selection.name.value
            if root is not None and name in root.fields and name not in names:
                names.append(name)
    return names or [INVALID], kind


def operation_metrics(metrics: GraphQLMetrics) -> type[SchemaExtension]:
    """An extension class recording every operation into ``metrics``."""

    class OperationMetrics(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            start = time.perf_counter()
            yield
            fields, kind = _root_fields(self)
            result = self.execution_context.result
            errors = self.execution_context.pre_execution_errors or (
                getattr(result, "errors", None) if result is not None else None
            )
            metrics.record(fields, kind, not errors, time.perf_counter() - start)

    return OperationMetrics
