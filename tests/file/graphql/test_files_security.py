"""Attacks and bad input on the file operations through the real gateway: a file of tenant B is
``NOT_FOUND`` for a member of A in every operation (and left as it was); hostile arguments
(megabyte names, NUL bytes, an invalid cursor, ``first`` over 100, a non-UUID id, a text for a
number, a size over the quota) are GraphQL errors with codes, never a server error, and nothing
is written; a list of files with owners costs one user-service call."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import ServiceName
from tests.file.graphql.file_graphql import (
    CREATE_UPLOAD,
    DELETE,
    DOWNLOAD_URL,
    FILE,
    FILES,
    MOVE,
    RENAME,
    data_of,
    settled,
    upload,
)
from tests.gateway.efficiency.counting import counting_calls, stack_gateway
from tests.graphql_client import gql
from tests.support import Stack
from tests.tenant.graphql.tenant_graphql import code_of
from tests.user.graphql.user_graphql import seed_team, token_of

MEGA = "x" * 1_000_000


async def test_a_file_of_tenant_b_is_not_found_for_a_in_every_operation(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, user_resources: Resources
) -> None:
    a = await seed_team(auth_runtime, tenant_resources, user_resources, [("Ann A", "owner")])
    b = await seed_team(auth_runtime, tenant_resources, user_resources, [("Ben B", "owner")])
    token_a = await token_of(stack.graphql, a.owner, a.tenant_id)
    token_b = await token_of(stack.graphql, b.owner, b.tenant_id)
    theirs = (await upload(stack, token_b, "secret-b.txt", b"tenant b only\n"))["file"]["id"]
    await settled(stack, token_b, theirs)

    attempts = [
        (FILE, {"id": theirs}),
        (DOWNLOAD_URL, {"id": theirs}),
        (RENAME, {"id": theirs, "name": "mine.txt"}),
        (MOVE, {"id": theirs, "folder": "/stolen/"}),
        (DELETE, {"id": theirs}),
    ]
    for query, variables in attempts:
        answer = await gql(stack.graphql, query, variables, token=token_a)
        assert answer["data"] is None and code_of(answer) == "NOT_FOUND", (query, answer)
        assert "secret-b" not in str(answer)
    listed = await gql(
        stack.graphql, FILES, {"folder": None, "search": "secret", "first": 10}, token=token_a
    )
    assert data_of(listed, "files")["edges"] == []

    unchanged = data_of(await gql(stack.graphql, FILE, {"id": theirs}, token=token_b), "file")
    assert (unchanged["name"], unchanged["folder"], unchanged["status"]) == (
        "secret-b.txt",
        "/",
        "ready",
    )


async def test_hostile_input_is_a_graphql_error_with_a_code_and_writes_nothing(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, user_resources: Resources
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, [("Bo Bad", "owner")])
    token = await token_of(stack.graphql, team.owner, team.tenant_id)
    mine = (await upload(stack, token, "keep.txt", b"keep me\n"))["file"]["id"]
    await settled(stack, token, mine)

    def plan(**fields: object) -> dict[str, Any]:
        return {"input": {"name": "a.txt", "size": 10, **fields}}

    cases: list[tuple[str, dict[str, Any], str]] = [
        (FILES, {"first": 1000}, "QUERY_TOO_COSTLY"),  # refused before any resolver runs
        (FILES, {"first": 101}, "BAD_USER_INPUT"),
        (FILES, {"first": 0}, "BAD_USER_INPUT"),
        (FILES, {"first": 5, "after": "not-a-cursor"}, "BAD_USER_INPUT"),
        (FILES, {"first": 5, "after": MEGA}, "BAD_USER_INPUT"),
        (FILES, {"first": 5, "search": MEGA}, "BAD_USER_INPUT"),
        (FILES, {"first": 5, "search": "a\x00b"}, "BAD_USER_INPUT"),
        (FILES, {"first": 5, "folder": "/../etc/"}, "BAD_USER_INPUT"),
        (FILE, {"id": "not-a-uuid"}, "BAD_USER_INPUT"),
        (FILE, {"id": MEGA}, "BAD_USER_INPUT"),
        (CREATE_UPLOAD, plan(name=MEGA), "BAD_USER_INPUT"),
        (CREATE_UPLOAD, plan(name="a\x00.txt"), "BAD_USER_INPUT"),
        (CREATE_UPLOAD, plan(name="../../etc/passwd"), "BAD_USER_INPUT"),
        (CREATE_UPLOAD, plan(folder=MEGA), "BAD_USER_INPUT"),
        (CREATE_UPLOAD, plan(size=0), "BAD_USER_INPUT"),
        (CREATE_UPLOAD, plan(size=1.5), "BAD_USER_INPUT"),
        (CREATE_UPLOAD, plan(size=1e300), "BAD_USER_INPUT"),
        (CREATE_UPLOAD, plan(size=2**52), "TOO_LARGE"),
        (CREATE_UPLOAD, plan(size=40 * 2**30), "QUOTA_EXCEEDED"),
        (RENAME, {"id": mine, "name": MEGA}, "BAD_USER_INPUT"),
        (RENAME, {"id": mine, "name": "x\x00y"}, "BAD_USER_INPUT"),
        (RENAME, {"id": mine, "name": "a/b"}, "BAD_USER_INPUT"),
        (MOVE, {"id": mine, "folder": MEGA}, "BAD_USER_INPUT"),
        (MOVE, {"id": mine, "folder": "/a\x00/"}, "BAD_USER_INPUT"),
        (DELETE, {"id": "'; drop table files; --"}, "BAD_USER_INPUT"),
    ]
    for query, variables, code in cases:
        answer = await gql(stack.graphql, query, variables, token=token)
        assert answer.get("data") is None, (variables, answer)
        assert code_of(answer) == code, (str(variables)[:200], answer)
        assert len(str(answer)) < 2000

    # Wrong types are refused by validation before any resolver runs.
    async with httpx.AsyncClient(timeout=30) as client:
        wrong = await client.post(
            stack.graphql,
            json={"query": CREATE_UPLOAD, "variables": {"input": {"name": 5, "size": "big"}}},
            headers={"authorization": f"Bearer {token}"},
        )
        invalid_utf8 = await client.post(
            stack.graphql,
            content=b'{"query": "{ files(first: 5, search: \\"\xff\xfe\\") { folders } }"}',
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        )
    assert wrong.status_code in (200, 400) and wrong.json()["errors"], wrong.text
    assert invalid_utf8.status_code < 500, invalid_utf8.text

    row = data_of(await gql(stack.graphql, FILE, {"id": mine}, token=token), "file")
    assert (row["name"], row["folder"], row["status"]) == ("keep.txt", "/", "ready")
    everything = await gql(stack.graphql, FILES, {"folder": None, "first": 100}, token=token)
    assert [e["node"]["id"] for e in data_of(everything, "files")["edges"]] == [mine]


FILES_WITH_OWNERS = """query {
  files(first: 100) { edges { node { name owner { displayName } } } }
}"""


@pytest.mark.parametrize("members", [4])
async def test_a_list_of_files_with_owners_costs_one_user_service_call(
    stack: Stack,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
    gateway_resources: Resources,
    monkeypatch: pytest.MonkeyPatch,
    members: int,
) -> None:
    names = [("Owner O", "owner")] + [(f"Member {i}", "member") for i in range(members - 1)]
    team = await seed_team(auth_runtime, tenant_resources, user_resources, names)
    tokens = [await token_of(stack.graphql, u, team.tenant_id) for u, _, _ in team.members]
    for index, token in enumerate(tokens):
        for copy in range(3):
            await upload(stack, token, f"f{index}-{copy}.txt", f"{index}/{copy}\n".encode())
    headers = {"authorization": f"Bearer {tokens[0]}"}
    async with stack_gateway(gateway_resources, stack) as client:
        await client.post("/graphql", json={"query": "{ me { userId } }"}, headers=headers)
        with counting_calls(monkeypatch, stack) as calls:
            response = await client.post(
                "/graphql", json={"query": FILES_WITH_OWNERS}, headers=headers
            )
    body = response.json()
    assert not body.get("errors"), body
    edges = body["data"]["files"]["edges"]
    assert len(edges) == members * 3
    # The owner holds users.read: every uploader's name, from one batched read.
    owners = {e["node"]["name"][1]: e["node"]["owner"]["displayName"] for e in edges}
    assert owners == {str(i): name for i, (name, _) in enumerate(names)}
    assert calls.seen.count((ServiceName.user, "GET /users")) == 1, calls.seen
    assert calls.of(ServiceName.user) == 1 and calls.of(ServiceName.file) == 1, calls.seen
