"""Operations parsed and validated once per process (``schema/limits.py`` ``DOCUMENTS``,
``schema/extensions.py`` ``CachedDocuments``): a repeated text reuses its document and its
validation, and nothing the checks decide is lost to the cache: the cost limit still reads
each request's variables, a schema without introspection still refuses ``__schema`` after
one with it answered, an invalid or unparsable text is refused every time, and the cache stays
within its budget whatever texts arrive."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from graphql import GraphQLError

from schema.limits import DOCUMENTS, DocumentCache
from schema.schema import build_schema
from services.common.resources import Resources
from tests.gateway.gateway_app import gateway_app, gateway_client

MEMBERS = """query($n: Int!) { tenants { members(first: $n) {
  edges { node { userId user { id email displayName } } } } } }"""


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


def test_a_repeated_text_is_parsed_once() -> None:
    cache = DocumentCache()
    query = "{ __typename }"

    first, again = cache.document(query), cache.document(query)

    assert first is again
    assert cache.document("{ __typename  }") is not first  # another text, another document


def test_the_cache_keeps_within_its_budget_and_evicts_the_oldest() -> None:
    cache = DocumentCache(budget=100)
    texts = [f"{{ a{i:03d}: __typename }}" for i in range(20)]  # 21 characters each

    documents = [cache.document(text) for text in texts]

    assert cache._chars <= 100
    assert cache.document(texts[-1]) is documents[-1]  # the newest are kept
    assert cache.document(texts[0]) is not documents[0]  # the oldest went


def test_a_text_that_does_not_parse_is_refused_every_time_and_not_kept() -> None:
    cache = DocumentCache()
    for _ in range(2):
        with pytest.raises(GraphQLError):
            cache.document("{ unclosed ")
    assert cache._chars == 0


def test_validation_errors_are_kept_per_schema_and_rules() -> None:
    cache = DocumentCache()
    query = "{ nope }"
    document = cache.document(query)
    calls: list[str] = []

    def validate(name: str) -> Any:
        def run() -> list[GraphQLError]:
            calls.append(name)
            return [GraphQLError(f"refused by {name}")]

        return run

    a1 = cache.errors(query, document, "a", validate("a"))
    a2 = cache.errors(query, document, "a", validate("a"))
    b1 = cache.errors(query, document, "b", validate("b"))
    foreign = cache.errors(query, cache.document("{ other }"), "a", validate("foreign"))

    assert [e.message for e in a1] == [e.message for e in a2] == ["refused by a"]
    assert [e.message for e in b1] == ["refused by b"]
    assert foreign[0].message == "refused by foreign"  # not the document of that text
    assert calls == ["a", "b", "foreign"]


async def test_introspection_stays_refused_where_it_is_off() -> None:
    query = "{ __schema { queryType { name } } }"
    open_schema = build_schema(mask_errors=False, introspection=True)
    closed_schema = build_schema(mask_errors=False, introspection=False)

    answers = [await schema.execute(query) for schema in (open_schema, closed_schema, open_schema)]
    refused_again = await closed_schema.execute(query)

    assert answers[0].errors is None and answers[2].errors is None
    for refused in (answers[1], refused_again):
        assert refused.data is None and refused.errors, refused
        assert "introspection" in refused.errors[0].message.lower()


async def test_the_cost_limit_reads_each_requests_variables(gateway_resources: Resources) -> None:
    app = gateway_app(gateway_resources, graphql_max_cost=2_000)
    async with gateway_client(app) as client:
        answers = [
            (await client.post("/graphql", json={"query": MEMBERS, "variables": {"n": n}})).json()
            for n in (5, 100, 5, 100)  # modest first: its validation is what gets cached
        ]

    assert [_code(a) for a in answers] == [
        "UNAUTHENTICATED",  # within the limit the operation runs and asks to sign in
        "QUERY_TOO_COSTLY",
        "UNAUTHENTICATED",
        "QUERY_TOO_COSTLY",
    ], answers


async def test_an_invalid_text_is_refused_every_time(gateway_resources: Resources) -> None:
    app = gateway_app(gateway_resources)
    unknown = f"{{ field{uuid.uuid4().hex[:8]} }}"  # new to this process's cache
    async with gateway_client(app) as client:
        invalid = [(await client.post("/graphql", json={"query": unknown})).json() for _ in "ab"]
        broken = [(await client.post("/graphql", json={"query": "{ me { "})).json() for _ in "ab"]
        fine = (await client.post("/graphql", json={"query": "{ __typename }"})).json()

    assert invalid[0] == invalid[1] and invalid[0]["data"] is None
    assert "Cannot query field" in invalid[0]["errors"][0]["message"]
    assert broken[0] == broken[1] and "Syntax Error" in broken[0]["errors"][0]["message"]
    assert fine == {"data": {"__typename": "Query"}}
    assert DOCUMENTS.document(unknown) is DOCUMENTS.document(unknown)  # kept, and reused
