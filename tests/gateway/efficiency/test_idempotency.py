"""Idempotent mutations on the real stack: the same ``Idempotency-Key`` retried (at once, while
the first is in flight, and later) answers the one run it started; the key with other arguments
is refused; a malformed key is BAD_USER_INPUT; without a key every request starts its own run."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from services.auth.runtime import AuthRuntime
from tests.support import Stack
from tests.tenant.graphql.tenant_graphql import code_of, login, new_user

SIGN_UP = """mutation($input: SignUpInput!) { signUp(input: $input) { id type accessToken } }"""
CREATE = """mutation($slug: String!) {
  createTenant(input: {slug: $slug, name: "Idempotent"}) { id type accessToken }
}"""


async def _post(
    stack: Stack, query: str, variables: dict[str, Any], key: str | None, token: str | None = None
) -> dict[str, Any]:
    headers = {"idempotency-key": key} if key else {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            stack.graphql, json={"query": query, "variables": variables}, headers=headers
        )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _sign_up(email: str) -> dict[str, Any]:
    return {"input": {"email": email, "password": "correct horse battery", "displayName": "Idem"}}


async def test_a_retried_sign_up_with_its_key_starts_one_workflow(stack: Stack) -> None:
    key = str(uuid.uuid4())
    variables = _sign_up(f"idem-{uuid.uuid4().hex[:10]}@example.com")
    concurrent = await asyncio.gather(*(_post(stack, SIGN_UP, variables, key) for _ in range(4)))
    later = await _post(stack, SIGN_UP, variables, key)

    runs = [answer["data"]["signUp"] for answer in [*concurrent, later]]
    assert all("errors" not in answer for answer in concurrent), concurrent
    assert len({run["id"] for run in runs}) == 1, runs  # one workflow, every answer names it
    assert len({run["accessToken"] for run in runs}) == 1
    # Without a key, the same request is a new sign-up (its own run).
    unkeyed = await asyncio.gather(*(_post(stack, SIGN_UP, variables, None) for _ in range(2)))
    assert len({a["data"]["signUp"]["id"] for a in unkeyed} | {runs[0]["id"]}) == 3


async def test_a_key_reused_with_other_arguments_or_malformed_is_refused(stack: Stack) -> None:
    key = str(uuid.uuid4())
    first = await _post(stack, SIGN_UP, _sign_up(f"idem-{uuid.uuid4().hex[:8]}@example.com"), key)
    other = await _post(stack, SIGN_UP, _sign_up(f"idem-{uuid.uuid4().hex[:8]}@example.com"), key)
    bad = await _post(stack, SIGN_UP, _sign_up("x@example.com"), "short")
    spaced = await _post(stack, SIGN_UP, _sign_up("x@example.com"), "has spaces in it")

    assert "errors" not in first, first
    assert other["data"] is None and code_of(other) == "IDEMPOTENCY_KEY_REUSED", other
    assert "another operation" in other["errors"][0]["message"]
    assert code_of(bad) == code_of(spaced) == "BAD_USER_INPUT", (bad, spaced)
    assert "Idempotency-Key" in bad["errors"][0]["message"]


async def test_keys_are_per_user_and_a_retried_create_tenant_answers_its_run(
    stack: Stack, auth_runtime: AuthRuntime
) -> None:
    alice, bob = await new_user(auth_runtime), await new_user(auth_runtime)
    token_a = (await login(stack.graphql, alice, None))["accessToken"]
    token_b = (await login(stack.graphql, bob, None))["accessToken"]
    key, slug = str(uuid.uuid4()), f"idem-{uuid.uuid4().hex[:10]}"

    first, retried = await asyncio.gather(
        _post(stack, CREATE, {"slug": slug}, key, token_a),
        _post(stack, CREATE, {"slug": slug}, key, token_a),
    )
    # Bob's key of the same name is his own: his request is a request of its own (refused by
    # the tenant service while alice's run runs, or a new run of that id once it has closed,
    # which then finds the slug taken): never alice's run.
    bobs = await _post(stack, CREATE, {"slug": slug}, key, token_b)

    assert not first.get("errors") and not retried.get("errors"), (first, retried)
    assert first["data"]["createTenant"] == retried["data"]["createTenant"]
    assert first["data"]["createTenant"]["id"] == f"tenant-provisioning-{slug}"
    alices = first["data"]["createTenant"]["accessToken"]
    assert bobs.get("errors") or bobs["data"]["createTenant"]["accessToken"] != alices, bobs
