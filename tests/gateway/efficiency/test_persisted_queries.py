"""Automatic persisted queries (Apollo APQ): on the real stack, an unknown hash answers
PERSISTED_QUERY_NOT_FOUND, query + hash stores it, the hash alone then runs it (POST and GET);
a wrong hash is refused. In-process: the registered-operations-only mode."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from services.common.resources import Resources
from tests.gateway.gateway_app import gateway_app, gateway_client
from tests.support import Stack


def _extensions(query: str, digest: str | None = None) -> dict[str, Any]:
    digest = digest or hashlib.sha256(query.encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def _code(body: dict[str, Any]) -> str | None:
    return body["errors"][0]["extensions"]["code"] if body.get("errors") else None


async def test_apq_round_trip_on_the_stack(stack: Stack) -> None:
    query = f"query Apq{uuid.uuid4().hex} {{ __typename }}"
    ext = _extensions(query)
    async with httpx.AsyncClient(timeout=30) as client:
        unknown = (await client.post(stack.graphql, json={"extensions": ext})).json()
        stored = (await client.post(stack.graphql, json={"query": query, "extensions": ext})).json()
        by_hash = (await client.post(stack.graphql, json={"extensions": ext})).json()
        by_get = (await client.get(stack.graphql, params={"extensions": json.dumps(ext)})).json()
        wrong = (
            await client.post(
                stack.graphql,
                json={"query": "{ __typename }", "extensions": _extensions(query, "0" * 64)},
            )
        ).json()
        bad_version = (
            await client.post(
                stack.graphql,
                json={"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}}},
            )
        ).json()

    assert _code(unknown) == "PERSISTED_QUERY_NOT_FOUND", unknown
    assert unknown["errors"][0]["message"] == "PersistedQueryNotFound"
    assert stored == by_hash == by_get == {"data": {"__typename": "Query"}}, (stored, by_hash)
    assert _code(wrong) == "PERSISTED_QUERY_HASH_MISMATCH", wrong
    assert _code(bad_version) == "BAD_USER_INPUT", bad_version


async def test_registered_operations_only(gateway_resources: Resources, tmp_path: Path) -> None:
    registered = "query Registered { __typename }"
    manifest = tmp_path / "operations.json"
    manifest.write_text(json.dumps({"operations": [{"id": "r", "body": registered}]}))
    app = gateway_app(
        gateway_resources,
        graphql_persisted_queries_only=True,
        graphql_operations_manifest=manifest,
    )
    other = f"query Other{uuid.uuid4().hex} {{ __typename }}"
    async with gateway_client(app) as client:
        by_hash = await client.post("/graphql", json={"extensions": _extensions(registered)})
        full_text = await client.post("/graphql", json={"query": registered})
        new_text = await client.post("/graphql", json={"query": other})
        new_apq = await client.post(
            "/graphql", json={"query": other, "extensions": _extensions(other)}
        )
        new_hash = await client.post("/graphql", json={"extensions": _extensions(other)})

    assert by_hash.json() == full_text.json() == {"data": {"__typename": "Query"}}
    assert _code(new_text.json()) == _code(new_apq.json()) == "PERSISTED_QUERY_NOT_ALLOWED"
    assert _code(new_hash.json()) == "PERSISTED_QUERY_NOT_FOUND"
