"""GraphQL operation series stay bounded by the schema whatever a client sends."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from schema.metrics import GraphQLMetrics
from schema.schema import build_schema


def labels(metrics: GraphQLMetrics) -> set[tuple[str, str, str]]:
    found = set()
    for family in metrics.collect():
        for sample in family.samples:
            if sample.name == "adx_graphql_operations_total":
                found.add(
                    (sample.labels["operation"], sample.labels["type"], sample.labels["outcome"])
                )
    return found


async def test_operations_are_labelled_by_schema_root_fields_only() -> None:
    metrics = GraphQLMetrics()
    schema = build_schema(mask_errors=True, metrics=metrics)
    hostile_name = "Op" + "x" * 1_000_000
    aliases = " ".join(f"a{i}: nope{i}" for i in range(50))

    await schema.execute(f"query {hostile_name} {{ __typename }}", operation_name=hostile_name)
    await schema.execute(f"query {{ {aliases} }}")
    await schema.execute("query { " * 5000)  # does not parse
    await schema.execute("mutation { signUp }")  # a real field, invalid arguments

    assert labels(metrics) == {
        ("invalid", "query", "ok"),
        ("invalid", "query", "error"),
        ("invalid", "unknown", "error"),
        ("signUp", "mutation", "error"),
    }
    registry = CollectorRegistry()
    registry.register(metrics)
    assert len(generate_latest(registry)) < 20_000  # no client text in the exposition
