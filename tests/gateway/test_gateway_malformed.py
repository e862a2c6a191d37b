"""Malformed request bodies get 400 problem+json from the gateway and from every service, never
a 500 or an echoed internal error (issue 6, finding 6): JSON that is no object, not UTF-8 or
nested 10,000 deep; a lone surrogate anywhere (an e-mail, a variable, a key) is readable JSON
but no text: 422 problem+json, refused before anything tries to encode it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets

from gateway.router import MAX_ERROR_MESSAGE
from gateway.service import create_gateway_app
from services.common.json_input import MAX_JSON_DEPTH, json_problem, nesting_depth
from services.common.resources import Resources
from tests.in_process import in_process_auth_api
from tests.problems import JSON, assert_problem
from tests.support import Stack

DEEP = 10_000
LOGIN = (
    'mutation($e: String!) { login(input: {email: $e, password: "p4ssw0rd-long"}) { mfaRequired } }'
)


def gql_body(query: str, variables: object = None) -> bytes:
    return json.dumps({"query": query, "variables": variables}).encode()  # \\u-escapes surrogates


#: Bodies that are no GraphQL request: each must be a 400 (422: surrogates) problem+json.
NOT_GRAPHQL = [
    pytest.param(b"null", id="null"),
    pytest.param(b"42", id="number"),
    pytest.param(b'"x"', id="string"),
    pytest.param(b"true", id="true"),
    pytest.param(b"[]", id="empty-array"),
    pytest.param(b"[1]", id="array"),
    pytest.param(b"\xff\xfe{}", id="not-utf8"),
    pytest.param(b'{"query": "{ __typename }", "x": "\xc3"}', id="truncated-utf8"),
    pytest.param(b"[" * DEEP + b"]" * DEEP, id="arrays-10000-deep"),
    pytest.param(b'{"a":' * DEEP + b"1" + b"}" * DEEP, id="objects-10000-deep"),
    pytest.param(b"[" * 200_000, id="unclosed-200000-deep"),
    pytest.param(
        b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * DEEP + b"]" * DEEP + b"}}",
        id="variables-10000-deep",
    ),
    pytest.param(gql_body('{ user(id: "\ud800") { id } }'), id="surrogate-in-query"),
    pytest.param(gql_body(LOGIN, {"e": "a\udc00@example.com"}), id="surrogate-in-email"),
    pytest.param(gql_body("{ __typename }", {"\ud800": 1}), id="surrogate-in-key"),
    pytest.param(b'{"query": "{ __typename }"} trailing', id="trailing-garbage"),
    pytest.param(b'{"variables": {}}', id="no-query"),
]


@pytest.fixture
async def gateway(gateway_resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app in-process (ASGI), exceptions answered like the server would."""
    app = create_gateway_app(gateway_resources)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


def assert_refused(response: httpx.Response) -> dict[str, object]:
    body = assert_problem(response, 400, 422)
    surrogate = "surrogate" in str(body["detail"])
    assert response.status_code == (422 if surrogate else 400), body
    detail = str(body["detail"]).lower()
    assert "codec" not in detail and "recursion" not in detail and "traceback" not in detail
    return body


@pytest.mark.parametrize("raw", NOT_GRAPHQL)
async def test_gateway_refuses_malformed_bodies_with_400_problem_json(
    gateway: httpx.AsyncClient, raw: bytes
) -> None:
    assert_refused(await gateway.post("/graphql", content=raw, headers=JSON))


async def test_gateway_says_what_is_wrong(gateway: httpx.AsyncClient) -> None:
    not_object = await gateway.post("/graphql", content=b"42", headers=JSON)
    deep = await gateway.post("/graphql", content=b"[" * DEEP + b"]" * DEEP, headers=JSON)
    surrogate = await gateway.post(
        "/graphql", content=gql_body(LOGIN, {"e": "\ud800@example.com"}), headers=JSON
    )
    not_utf8 = await gateway.post("/graphql", content=b"\xff", headers=JSON)

    assert "must be a JSON object" in assert_refused(not_object)["detail"]  # type: ignore[operator]
    assert f"deeper than {MAX_JSON_DEPTH}" in assert_refused(deep)["detail"]  # type: ignore[operator]
    assert "surrogate" in assert_refused(surrogate)["detail"]  # type: ignore[operator]
    assert "UTF-8" in assert_refused(not_utf8)["detail"]  # type: ignore[operator]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"variables": "[" * DEEP + "]" * DEEP}, id="deep-variables"),
        pytest.param({"variables": json.dumps({"v": "\ud800"})}, id="surrogate-variables"),
        pytest.param({"variables": "42"}, id="variables-not-object"),
        pytest.param({"variables": "{nope"}, id="variables-not-json"),
    ],
)
async def test_get_queries_check_their_variables_too(
    gateway: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await gateway.get("/graphql", params={"query": "{ __typename }", **params})
    assert_refused(response)


async def test_well_formed_requests_still_work(gateway: httpx.AsyncClient) -> None:
    """Emoji escaped as a valid surrogate pair, brackets inside strings, moderate nesting."""
    nested: object = "leaf"
    for _ in range(MAX_JSON_DEPTH - 3):
        nested = [nested]
    body = gql_body("{ __typename }", {"emoji": "\U0001f600", "text": "[[[{{{", "deep": nested})
    assert b"\\ud83d\\ude00" in body

    response = await gateway.post("/graphql", content=body, headers=JSON)
    syntax = await gateway.post("/graphql", json={"query": "mutation {"})

    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__typename": "Query"}}
    assert syntax.status_code == 200  # a GraphQL request with a GraphQL error: GraphQL-shaped
    assert syntax.json()["errors"][0]["message"].startswith("Syntax Error")


# --- every service app (services/common/app.py) -------------------------------------------------

SERVICE_BODIES = [
    pytest.param(b'{"email": "\xff@example.com", "password": "long enough"}', id="not-utf8"),
    pytest.param(
        json.dumps({"email": "a\ud800@example.com", "password": "long enough"}).encode(),
        id="surrogate-in-email",
    ),
    pytest.param(
        json.dumps({"email": "a@example.com", "password": "long \udfff enough"}).encode(),
        id="surrogate-in-password",
    ),
    pytest.param(
        json.dumps({"email": "a@example.com", "password": "long enough", "\ud800": 1}).encode(),
        id="surrogate-in-unknown-key",
    ),
    pytest.param(b'{"email": ' + b"[" * DEEP + b"]" * DEEP + b"}", id="nested-10000-deep"),
    pytest.param(b'{"email": ' + b"[" * 900 + b"]" * 900 + b"}", id="nested-900-deep"),
    pytest.param(b'{"email": "a@example.com", ', id="truncated"),
    pytest.param(b'{"email": "a@example.com",}', id="trailing-comma"),
]


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register"])
@pytest.mark.parametrize("raw", SERVICE_BODIES)
async def test_service_apps_refuse_malformed_bodies_up_front(
    auth_resources: Resources, path: str, raw: bytes
) -> None:
    async with in_process_auth_api(auth_resources) as auth:
        response = await auth.post(path, content=raw, headers=JSON)
        for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
            again = await auth.post(path, content=raw, headers={"content-type": content_type})
            assert_refused(again)
    assert_refused(response)


# --- the guard itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"q": "{ a { b { c } } } [[[["}', 1),
        ('["\\"[[[", ["\\\\"]]', 2),
        ("1", 0),
    ],
)
def test_nesting_depth_ignores_brackets_in_strings(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_a_valid_surrogate_pair_is_not_refused_and_an_escaped_backslash_is_no_escape() -> None:
    assert json_problem(json.dumps({"e": "\U0001f600"})) is None
    assert json_problem(r'{"e": "\\ud800"}') is None  # a backslash, then the text "ud800"
    assert json_problem(r'{"e": "\ud83d"}') is not None
    assert json_problem(r'{"e": "\uDE00x"}') is not None


# --- over a real server: one keep-alive connection survives every malformed body -------------


async def test_one_keep_alive_connection_gets_an_answer_to_every_malformed_body(
    stack: Stack,
) -> None:
    bodies = [param.values[0] for param in NOT_GRAPHQL]
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=1)) as client:
        statuses = []
        for raw in bodies:
            response = await client.post(stack.graphql, content=raw, headers=JSON)
            assert_refused(response)
            statuses.append(response.status_code)
        after = await client.post(stack.graphql, json={"query": "{ __typename }"})

    assert len(statuses) == len(bodies)
    assert after.json() == {"data": {"__typename": "Query"}}


async def test_a_malformed_websocket_message_closes_the_socket_with_4400(stack: Stack) -> None:
    deep = (
        json.dumps({"type": "connection_init"})[:-1]
        + ', "payload": '
        + "[" * DEEP
        + "]" * DEEP
        + "}"
    )
    async with websockets.connect(stack.graphql_ws, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(deep)
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 30)

    assert ws.close_code == 4400


async def test_an_ill_typed_megabyte_variable_is_not_echoed_back(
    gateway: httpx.AsyncClient,
) -> None:
    """graphql-core's coercion error quotes the value given; the gateway answers at most
    ``MAX_ERROR_MESSAGE`` characters of any message."""
    query = "mutation($input: MigrateTenantStorageInput!) { migrateTenantStorage(input: $input) { id } }"
    huge = "Z" * 100_000
    response = await gateway.post(
        "/graphql", content=gql_body(query, {"input": {"target": huge}}), headers=JSON
    )
    assert response.status_code in (200, 400), response.text[:300]
    [error] = response.json()["errors"]
    assert "invalid value" in error["message"]
    assert len(error["message"]) <= MAX_ERROR_MESSAGE + 20
    assert error["message"].endswith("(truncated)")
    assert len(response.content) < 4_000
