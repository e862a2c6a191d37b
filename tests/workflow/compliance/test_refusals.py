"""Hostile and misdirected input to the ``/compliance`` routes: 4xx problem+json, never a 500,
nothing started. Nobody can name another person: the routes act for the caller's own token, so
a tenant admin of A cannot erase (or cancel, or decide for) a member of B; forged links and
receipts are refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from tests.auth.users import create_user
from tests.workflow.compliance.people import member_with_data, provisioned, runs_of
from tests.workflow.runs.runs_api import MANAGE, Caller

pytestmark = pytest.mark.timeout(180)
MEGABYTE = "x" * 1_000_000


def _deep(depth: int) -> Any:
    value: Any = True
    for _ in range(depth):
        value = {"confirm": value}
    return value


async def test_hostile_input_is_refused_and_nothing_starts(
    temporal: Client, compliance_stack: Any, auth_runtime: AuthRuntime
) -> None:
    owner_a, owner_b = await create_user(auth_runtime), await create_user(auth_runtime)
    async with compliance_stack(grace_seconds=600) as stack:
        tenant_a = await provisioned(temporal, stack, owner_a.id)
        tenant_b = await provisioned(temporal, stack, owner_b.id)
        member_b = await member_with_data(auth_runtime, stack, tenant_b)
        admin_a = Caller(owner_a.id, tenant_a, (*MANAGE, "members.manage", "members.remove"))
        async with stack.api.client(admin_a) as client:
            bodies = [
                {"confirm": True, "user_id": str(member_b.id)},
                {"user_id": str(member_b.id)},
                {"confirm": False},
                {"confirm": MEGABYTE},
                _deep(200),
                [],
            ]
            for body in bodies:
                answer = await client.post("/compliance/erasures", json=body)
                assert 400 <= answer.status_code < 500, (str(body)[:80], answer.status_code)
                assert answer.headers["content-type"].startswith("application/problem+json")
            for path, body in [
                ("/compliance/erasures/cancel", {"reason": MEGABYTE}),
                ("/compliance/erasures/decisions", {"decisions": []}),
                ("/compliance/erasures/decisions", {"decisions": [{"tenant_id": "x" * 5000}]}),
                (
                    "/compliance/receipts/verify",
                    {"receipt": MEGABYTE, "key_id": "k", "signature": "s"},
                ),
            ]:
                answer = await client.post(path, json=body)
                assert 400 <= answer.status_code < 500, (path, answer.status_code)
            # Valid requests about nobody's erasure: there is none of the caller's own.
            assert (await client.post("/compliance/erasures/cancel", json={})).status_code == 404
            assert (await client.get("/compliance/erasures/current")).status_code == 404
            decided = await client.post(
                "/compliance/erasures/decisions",
                json={"decisions": [{"tenant_id": str(tenant_b), "new_owner_id": str(owner_a.id)}]},
            )
            assert decided.status_code == 404
            for bad in ["../../etc", "0" * 24 + "/../x", "A" * 24, "0" * 1000]:
                link = await client.get(f"/compliance/exports/{bad}/archive?exp=1&kid=k&sig=s")
                assert 400 <= link.status_code < 500, (bad, link.status_code)
            link = await client.get(f"/compliance/exports/{'0' * 24}/archive?exp=-1&kid=k&sig=s")
            assert link.status_code == 422
        # Unauthenticated: only the signed link and the receipt check are open.
        async with stack.api.client(admin_a) as client:
            client.headers.pop("authorization")
            assert (await client.post("/compliance/exports")).status_code == 401
            assert (
                await client.post("/compliance/erasures", json={"confirm": True})
            ).status_code == 401
            verdict = await client.post(
                "/compliance/receipts/verify",
                json={"receipt": "{}", "key_id": "nope", "signature": "x"},
            )
            assert verdict.json() == {"valid": False}
    assert await runs_of(temporal, member_b.id) == []
    erasure = temporal.list_workflows(
        "WorkflowType = 'gdpr_erasure' AND ExecutionStatus = 'Running'"
    )
    assert [e async for e in erasure if str(member_b.id) in e.id] == []
    assert uuid.UUID(str(member_b.id))
