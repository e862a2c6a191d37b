"""The thin slice against running processes: GraphQL mutation → workflow on two services'
queues → progress over graphql-transport-ws → user query answered by the user service."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from services.auth.runtime import runtime_for
from services.common.resources import Resources
from services.common.settings import DEFAULT_PORTS, ServiceName
from tests.auth.mail_flows import link_token, plain_text, wait_for_outbox
from tests.graphql_client import gql, subscribe
from tests.support import Infra, Stack

SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    id type status accessToken progress { step total label percent state }
  }
}"""
PROGRESS = """
subscription Progress($id: ID!, $token: String) {
  workflowProgress(id: $id, accessToken: $token) {
    id status error result
    progress { step total label percent state }
  }
}"""
USER = "query User($id: ID!) { user(id: $id) { id email displayName createdAt } }"
VERIFY = "mutation($token: String!) { verifyEmail(token: $token) }"
LOGIN = """mutation($input: LoginInput!) { login(input: $input) { tokens { accessToken } } }"""


def sign_up_input(email: str | None = None, **overrides: str) -> dict[str, str]:
    return {
        "email": email or f"e2e-{uuid.uuid4().hex[:10]}@example.com",
        "password": "a long enough password",
        "displayName": "E2E User",
        **overrides,
    }


async def test_every_process_is_ready_and_exposes_metrics(stack: Stack) -> None:
    async with httpx.AsyncClient() as client:
        for service in DEFAULT_PORTS:
            ready = await client.get(stack.url(service, "/health/ready"))
            assert ready.status_code == 200, (service, ready.text)
            assert set(ready.json()["checks"].values()) == {"ok"}
            metrics = await client.get(stack.url(service, "/metrics"))
            assert "adx_http_requests_total" in metrics.text


async def verify_by_mail(stack: Stack, infra: Infra, email: str) -> dict[str, Any]:
    """What the user does: open the verification mail and follow its link."""
    mail = (await wait_for_outbox(infra.settings(), email))[-1]
    token = link_token(plain_text(mail), "/verify-email")
    return await gql(stack.graphql, VERIFY, {"token": token})


async def follow(
    stack: Stack, run: dict[str, Any], seen: asyncio.Queue[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    updates = []
    async for update in subscribe(
        stack.graphql_ws, PROGRESS, {"id": run["id"], "token": run["accessToken"]}
    ):
        updates.append(update["data"]["workflowProgress"])
        if seen is not None:
            seen.put_nowait(updates[-1])
    return updates


async def until_waiting(seen: asyncio.Queue[dict[str, Any]]) -> None:
    while True:
        update = await asyncio.wait_for(seen.get(), 30)
        if (update["progress"] or {}).get("state") == "waiting":
            return


async def test_sign_up_verify_sign_in_journey(stack: Stack, infra: Infra) -> None:
    """mutation → workflow on auth + user queues → progress over graphql-transport-ws → the
    verification mail → sign in → the profile, answered by the user service over HTTP."""
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"

    started = await gql(stack.graphql, SIGN_UP, {"input": sign_up_input(email)})
    assert "errors" not in started, started
    run = started["data"]["signUp"]
    assert run["type"] == "user_registration" and run["accessToken"]
    seen: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    following = asyncio.create_task(follow(stack, run, seen))
    await until_waiting(seen)  # the subscription shows the run waiting for the e-mail
    verified = await verify_by_mail(stack, infra, email)
    updates = await asyncio.wait_for(following, 60)

    assert verified == {"data": {"verifyEmail": True}}
    final = updates[-1]
    assert final["status"] == "COMPLETED", updates
    assert final["progress"] == {
        "step": 4,
        "total": 4,
        "label": "e-mail verified",
        "percent": 100,
        "state": "completed",
    }
    assert final["result"]["status"] == "verified"
    percents = [u["progress"]["percent"] for u in updates if u["progress"]]
    assert percents == sorted(percents), f"progress went backwards: {percents}"

    login = await gql(
        stack.graphql,
        LOGIN,
        {"input": {"email": email, "password": "a long enough password"}},
    )
    token = login["data"]["login"]["tokens"]["accessToken"]
    me = (await gql(stack.graphql, "{ me { userId } }", token=token))["data"]["me"]
    user = await gql(stack.graphql, USER, {"id": me["userId"]}, token=token)

    assert user["data"]["user"]["email"] == email
    assert user["data"]["user"]["displayName"] == "E2E User"


async def test_two_subscribers_both_receive_the_final_state(stack: Stack, infra: Infra) -> None:
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
    run = (await gql(stack.graphql, SIGN_UP, {"input": sign_up_input(email)}))["data"]["signUp"]
    both = asyncio.gather(follow(stack, run), follow(stack, run))

    await verify_by_mail(stack, infra, email)
    first, second = await asyncio.wait_for(both, 60)

    assert first[-1]["status"] == second[-1]["status"] == "COMPLETED"


async def test_profiles_of_other_people_are_not_readable(stack: Stack, infra: Infra) -> None:
    anonymous = await gql(stack.graphql, USER, {"id": str(uuid.uuid4())})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_signing_up_twice_while_running_starts_two_runs(stack: Stack) -> None:
    """Was "joins the same run" (and handed the second caller the first run's access token:
    the pre-hijack of issue 6). Every sign-up is now its own run with its own token."""
    variables = {"input": sign_up_input()}
    first, second = await asyncio.gather(
        gql(stack.graphql, SIGN_UP, variables), gql(stack.graphql, SIGN_UP, variables)
    )
    assert first["data"]["signUp"]["id"] != second["data"]["signUp"]["id"]
    assert first["data"]["signUp"]["accessToken"] != second["data"]["signUp"]["accessToken"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email": "not-an-email"}, "invalid e-mail"),
        ({"password": "short"}, "password must be"),
        ({"password": "x" * 129}, "password must be"),
        ({"displayName": "   "}, "display name"),
    ],
)
async def test_bad_sign_up_input_is_a_graphql_error_and_starts_nothing(
    stack: Stack, overrides: dict[str, str], message: str
) -> None:
    response = await gql(stack.graphql, SIGN_UP, {"input": sign_up_input(**overrides)})

    assert response["data"] is None
    assert message in response["errors"][0]["message"]
    assert response["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_subscription_to_unknown_workflow_errors(stack: Stack) -> None:
    updates = [u async for u in subscribe(stack.graphql_ws, PROGRESS, {"id": "no-such-workflow"})]
    assert "not found" in str(updates[-1]["errors"])


async def test_runs_are_invisible_without_their_access_token(stack: Stack) -> None:
    """Registration ids derive from the e-mail; without the token a run must not be observable."""
    run = (await gql(stack.graphql, SIGN_UP, {"input": sign_up_input()}))["data"]["signUp"]
    query = "query($id: ID!, $t: String) { workflowRun(id: $id, accessToken: $t) { status } }"

    anonymous = await gql(stack.graphql, query, {"id": run["id"]})
    forged = await gql(stack.graphql, query, {"id": run["id"], "t": "A" * 43})
    stream = [
        u async for u in subscribe(stack.graphql_ws, PROGRESS, {"id": run["id"], "token": "nope"})
    ]
    allowed = await gql(stack.graphql, query, {"id": run["id"], "t": run["accessToken"]})

    for denied in (anonymous, forged):
        assert denied["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert "not found" in str(stream[-1]["errors"])
    assert allowed["data"]["workflowRun"]["status"] in ("RUNNING", "COMPLETED")


async def test_bad_user_id_is_a_graphql_error(stack: Stack) -> None:
    bad = await gql(stack.graphql, USER, {"id": "nope"})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"query": 42}', b'{"query": "{ user(id: 1 }"}', b"[]"],
)
async def test_malformed_graphql_requests_get_4xx(stack: Stack, body: bytes) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack.graphql, content=body, headers={"content-type": "application/json"}
        )
    assert 400 <= response.status_code < 500 or "errors" in response.json(), response.text


async def test_alias_and_token_limits_reject_abusive_queries(stack: Stack) -> None:
    aliases = (
        "{ " + " ".join(f'a{i}: user(id: "{uuid.uuid4()}") {{ id }}' for i in range(20)) + " }"
    )
    tokens = "{ " + 'user(id: "x") { id } ' * 400 + "}"

    too_many_aliases = await gql(stack.graphql, aliases)
    too_many_tokens = await gql(stack.graphql, tokens)

    assert "aliases found" in too_many_aliases["errors"][0]["message"]
    assert "more than 2000 tokens" in too_many_tokens["errors"][0]["message"]


async def test_service_rest_errors_are_problem_json(
    stack: Stack, auth_resources: Resources
) -> None:
    # Every service route wants an access token (tests/platform/test_service_authentication.py).
    token = runtime_for(auth_resources).issuer.access_token(
        user_id=str(uuid.uuid4()), session_id=str(uuid.uuid4()), tenant_id=None, roles=[],
        auth_methods=["pwd"],
    )  # fmt: skip
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}) as client:
        bad = await client.get(stack.url(ServiceName.user, "/users/not-a-uuid"))
        missing = await client.get(stack.url(ServiceName.user, f"/users/{uuid.uuid4()}"))
        huge = await client.post(
            stack.url(ServiceName.user, "/users"), content=b"x" * (2 * 1024 * 1024)
        )
        no_ids = await client.get(stack.url(ServiceName.user, "/users"))

    for response, status in ((bad, 422), (missing, 404), (huge, 413), (no_ids, 422)):
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert {"type", "title", "status", "detail"} <= response.json().keys()


async def test_graphiql_is_served_with_local_assets(stack: Stack) -> None:
    async with httpx.AsyncClient() as client:
        page = await client.get(stack.graphql, headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        assert "unpkg.com" not in page.text
        asset = await client.get(
            stack.url(ServiceName.gateway, "/graphiql-assets/graphiql@3.8.3/graphiql.min.js")
        )
    assert asset.status_code == 200 and len(asset.content) > 100_000
