"""The query cost limit: ``first: 100`` nested three deep is refused before anything runs,
with QUERY_TOO_COSTLY and the estimate; a modest page passes; variables count as well."""

from __future__ import annotations

from typing import Any

import strawberry

from schema.cost import QueryCostLimiter
from services.common.resources import Resources
from tests.gateway.gateway_app import gateway_app, gateway_client


@strawberry.type
class Leaf:
    id: int


@strawberry.type
class Level2:
    @strawberry.field
    def items(self, first: int = 10) -> list[Leaf]:
        return [Leaf(id=i) for i in range(first)]


@strawberry.type
class Level1:
    @strawberry.field
    def items(self, first: int = 10) -> list[Level2]:
        return [Level2() for _ in range(first)]


@strawberry.type
class Query:
    @strawberry.field
    def items(self, first: int = 10) -> list[Level1]:
        return [Level1() for _ in range(first)]


TOY = strawberry.Schema(query=Query, extensions=[lambda: QueryCostLimiter(10_000)])
THREE_DEEP = (
    "query($n: Int!) { items(first: $n) { items(first: 100) { items(first: 100) { id } } } }"
)


async def test_first_100_three_deep_is_refused_before_anything_runs() -> None:
    refused = await TOY.execute(THREE_DEEP, variable_values={"n": 100})
    small = await TOY.execute(THREE_DEEP.replace("100", "5"), variable_values={"n": 5})

    assert refused.data is None and refused.errors
    error = refused.errors[0]
    assert error.extensions is not None and error.extensions["code"] == "QUERY_TOO_COSTLY"
    assert error.extensions["cost"] > 1_000_000 and error.extensions["maxCost"] == 10_000
    assert "fewer items per page" in error.message
    assert small.errors is None and small.data is not None


def _first_error(body: dict[str, Any]) -> dict[str, Any]:
    return body["errors"][0]  # type: ignore[no-any-return]


async def test_the_gateway_refuses_a_costly_members_query(gateway_resources: Resources) -> None:
    query = """query($n: Int!) { tenants { members(first: $n) {
      edges { node { userId user { id email displayName } } } } } }"""
    app = gateway_app(gateway_resources, graphql_max_cost=2_000)
    async with gateway_client(app) as client:
        costly = (
            await client.post("/graphql", json={"query": query, "variables": {"n": 100}})
        ).json()
        modest = (
            await client.post("/graphql", json={"query": query, "variables": {"n": 5}})
        ).json()

    assert costly["data"] is None
    assert _first_error(costly)["extensions"]["code"] == "QUERY_TOO_COSTLY", costly
    # Within the limit the operation runs: without a token the resolver asks to sign in.
    assert _first_error(modest)["extensions"]["code"] == "UNAUTHENTICATED", modest
