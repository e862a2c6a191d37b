"""Accounts for the mixed load (``bench/mixed_load.py``): verified credentials and profiles
inserted directly (what a finished sign-up leaves; sign-up's mail round trip is not what is
measured), then through the gateway each signs in and creates its own tenant, whose
``tenant_provisioning`` run is waited for: real tenants, memberships and claims."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from bench.argon2_rate import PASSWORD
from bench.infra import insert_verified_accounts
from bench.load_report import checked

LOGIN = """mutation($i: LoginInput!) {
  login(input: $i) { tokens { accessToken } }
}"""
CREATE_TENANT = """mutation($i: CreateTenantInput!) {
  createTenant(input: $i) { id accessToken }
}"""
RUN = """query($id: ID!, $token: String) {
  workflowRun(id: $id, accessToken: $token) { status error }
}"""
TENANTS = "{ tenants { id slug } }"
#: Accounts set up at once (each costs a login's argon2 and a provisioning run).
SETUP_CONCURRENCY = 4


@dataclass(frozen=True)
class Account:
    """A verified account able to sign in, and the tenant it owns (its active one)."""

    email: str
    password: str
    user_id: str
    tenant_id: str


async def graphql(
    client: httpx.AsyncClient,
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """One GraphQL call's ``data`` (``Failed`` on an error), for set-up, not measured."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answer = await client.post(
        url, json={"query": query, "variables": variables or {}}, headers=headers
    )
    return checked(answer.status_code, answer.content)


async def sign_in(
    client: httpx.AsyncClient, url: str, email: str, password: str, tenant_id: str | None
) -> str:
    """An access token of the account, in ``tenant_id`` when given."""
    data = await graphql(
        client,
        url,
        LOGIN,
        {"i": {"email": email, "password": password, "tenantId": tenant_id}},
    )
    return str(data["login"]["tokens"]["accessToken"])


async def wait_for_run(
    client: httpx.AsyncClient, url: str, run_id: str, token: str | None, within: float
) -> str:
    """The run's status once it is no longer RUNNING (polled), or RUNNING after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        run = (await graphql(client, url, RUN, {"id": run_id, "token": token}))["workflowRun"]
        if run["status"] != "RUNNING" or time.monotonic() >= deadline:
            return str(run["status"])
        await asyncio.sleep(0.2)


async def prepare_accounts(
    gateway_url: str,
    database_url: str,
    count: int,
    *,
    password: str = PASSWORD,
    setup_seconds: float = 120.0,
) -> list[Account]:
    """``count`` accounts, each owning a tenant of its own, provisioned through the gateway at
    ``gateway_url`` (its stack's database at ``database_url``); a provisioning run still going
    after ``setup_seconds`` fails the set-up, as any other error does."""
    graphql_url = f"{gateway_url.rstrip('/')}/graphql"
    rows = await insert_verified_accounts(
        database_url,
        count,
        password,
        lambda user_id: f"load-{user_id.hex[:12]}@example.com",
        profiles=True,
    )
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one(client: httpx.AsyncClient, user_id: uuid.UUID, email: str) -> Account:
        async with gate:
            token = await sign_in(client, graphql_url, email, password, None)
            slug = f"load-{user_id.hex[:12]}"
            variables = {"i": {"slug": slug, "name": f"Load {user_id.hex[:8]}"}}
            run = (await graphql(client, graphql_url, CREATE_TENANT, variables, token))[
                "createTenant"
            ]
            status = await wait_for_run(
                client, graphql_url, run["id"], run["accessToken"], setup_seconds
            )
            if status != "COMPLETED":
                raise RuntimeError(f"provisioning the tenant of {email} ended {status}")
            tenants = (await graphql(client, graphql_url, TENANTS, token=token))["tenants"]
            tenant_id = next(str(t["id"]) for t in tenants if t["slug"] == slug)
            return Account(email, password, str(user_id), tenant_id)

    async with httpx.AsyncClient(timeout=60) as client:
        return list(await asyncio.gather(*(one(client, i, e) for i, e in rows)))
