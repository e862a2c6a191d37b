"""``migrateTenantStorage`` through the gateway (in-process, its file calls to the migration test's
file app): an admin moves the active tenant's files to S3 and follows the run with its access
token; a member without ``tenant.manage`` is ``FORBIDDEN``; hostile input is a GraphQL error
with a code, never a 500, and starts nothing; another tenant's admin moves only their own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from gateway.context import GatewayState
from services.auth.service import create_auth_app
from services.common.resources import Resources
from tests.file.file_api import READ_WRITE, Caller
from tests.file.migration.stores import ADMIN, MigrationApi
from tests.gateway.gateway_app import gateway_app, gateway_client
from workflows.file.file_migration import FileMigrationResult, file_migration_workflow_id

MIGRATE = """mutation($input: MigrateTenantStorageInput!) {
  migrateTenantStorage(input: $input) { id type status accessToken }
}"""
RUN = """query($id: ID!, $token: String) {
  workflowRun(id: $id, accessToken: $token) { id type status result progress { percent state } }
}"""


@asynccontextmanager
async def graphql(
    api: MigrationApi, gateway_resources: Resources, auth_resources: Resources
) -> AsyncIterator[Any]:
    await api.publish_keys()
    app = gateway_app(gateway_resources)
    state: GatewayState = app.state.gateway
    await state.services.file.http.aclose()
    state.services.file.http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app), base_url="http://file", timeout=30
    )
    async with gateway_client(app, auth_app=create_auth_app(auth_resources)) as client:

        async def ask(
            caller: Caller | None,
            query: str,
            variables: dict[str, Any],
            permissions: tuple[str, ...] = ADMIN,
        ) -> dict[str, Any]:
            headers = {"content-type": "application/json"}
            if caller is not None:
                headers["authorization"] = f"Bearer {api.token(caller, permissions)}"
            body = json.dumps({"query": query, "variables": variables})
            answer = await client.post("/graphql", content=body, headers=headers)
            assert answer.status_code in (200, 400), answer.text
            return answer.json()  # type: ignore[no-any-return]

        yield ask


def code_of(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0].get("extensions", {}).get("code") if errors else None


async def _not_started(temporal: Client, caller: Caller) -> None:
    with pytest.raises(RPCError):
        await temporal.get_workflow_handle(
            file_migration_workflow_id(str(caller.tenant_id))
        ).describe()


async def test_an_admin_migrates_the_tenant_to_s3_and_follows_the_run(
    migration_api: MigrationApi,
    gateway_resources: Resources,
    auth_resources: Resources,
    temporal: Client,
) -> None:
    api = migration_api
    admin, other = api.caller(), api.caller()
    mine = await api.seed(admin.tenant_id, b"the admin's tenant's file")
    theirs = await api.seed(other.tenant_id, b"another tenant's file")
    async with graphql(api, gateway_resources, auth_resources) as ask:
        body = await ask(admin, MIGRATE, {"input": {"target": "S3", "batchSize": 5}})
        assert not body.get("errors"), body
        started = body["data"]["migrateTenantStorage"]
        assert started["id"] == file_migration_workflow_id(str(admin.tenant_id))
        assert started["type"] == "file_migration" and started["accessToken"]
        await temporal.get_workflow_handle(started["id"], result_type=FileMigrationResult).result()

        followed = await ask(None, RUN, {"id": started["id"], "token": started["accessToken"]})
        run = followed["data"]["workflowRun"]
        assert run["status"] == "COMPLETED", run
        assert run["progress"] == {"percent": 100, "state": "completed"}
        result = run["result"] if isinstance(run["result"], dict) else json.loads(run["result"])
        assert result["report"]["moved_files"] == 1 and result["report"]["failed_files"] == 0

    stores = {r.id: r.store for r in await api.rows(admin.tenant_id)}
    assert stores == {mine.id: "s3"}
    assert await api.s3.inner.get(mine.blob_key) == b"the admin's tenant's file"
    assert {r.id: r.store for r in await api.rows(other.tenant_id)} == {theirs.id: None}
    assert not await api.s3.inner.exists(theirs.blob_key)


async def test_a_member_without_tenant_manage_is_forbidden(
    migration_api: MigrationApi,
    gateway_resources: Resources,
    auth_resources: Resources,
    temporal: Client,
) -> None:
    member = migration_api.caller()
    async with graphql(migration_api, gateway_resources, auth_resources) as ask:
        body = await ask(member, MIGRATE, {"input": {"target": "S3"}}, permissions=READ_WRITE)
    assert code_of(body) == "FORBIDDEN", body
    await _not_started(temporal, member)


#: Well-typed but refused by the file service's own model or route: BAD_USER_INPUT.
REFUSED: list[dict[str, Any]] = [
    {"target": "S3", "batchSize": 0},
    {"target": "S3", "batchSize": 10**6},
    {"target": "LOCAL"},  # the files are local already
    {"target": "S3", "source": "S3"},
]
#: Not even of the input's types: a GraphQL error before any resolver runs.
ILL_TYPED: list[dict[str, Any]] = [
    {"target": "S3", "batchSize": 2**40},
    {"target": "S3", "batchSize": "ten"},
    {"target": "FTP"},
    {"target": "S" * 1_000_000},
    {"target": "S3", "extra": {"deep": [[[[[[[[{"x": 1}]]]]]]]]}},
    {"target": None},
    {},
]


@pytest.mark.parametrize("hostile", REFUSED + ILL_TYPED, ids=lambda h: json.dumps(h)[:40])
async def test_hostile_input_is_a_graphql_error_and_starts_nothing(
    migration_api: MigrationApi,
    gateway_resources: Resources,
    auth_resources: Resources,
    temporal: Client,
    hostile: dict[str, Any],
) -> None:
    admin = migration_api.caller()
    await migration_api.seed(admin.tenant_id, b"stays local")
    async with graphql(migration_api, gateway_resources, auth_resources) as ask:
        body = await ask(admin, MIGRATE, {"input": hostile})
    assert body.get("errors") and body.get("data") is None, body
    if hostile in REFUSED:
        assert code_of(body) == "BAD_USER_INPUT", body
    await _not_started(temporal, admin)
    assert [r.store for r in await migration_api.rows(admin.tenant_id)] == [None]
