"""``bulk_user_operation`` over a tenant's members on the real dev server, started through
``POST /users/bulk/operations``: roles changed (one row refused by the tenant's rules, one naming another
tenant's member, one unknown: each fails alone), members deactivated and removed, a run that
continues as new, and a run cancelled mid-way that stops cleanly. With ``ADX_RECORD_HISTORIES=1``
the role change is the replay history (``tests/histories/bulk_user_operation.json``)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.user.bulk.activities import BulkOperationActivities
from storage.db import transaction
from storage.tenants.repository import MembershipRepository
from storage.users.repository import ProfileRepository
from tests.auth.mail_flows import record_history
from tests.user.bulk.bulk_api import (
    bulk_client,
    cancel_after_first_row,
    csv_of,
    finished,
    report,
    rows_by_status,
    team,
    upload,
)
from workflows.accounts.bulk_user_operation import BulkUserOperationWorkflow
from workflows.user.bulk_contracts import LOAD_BULK_ROWS, LoadBulkRowsInput, LoadBulkRowsOutput

pytestmark = pytest.mark.timeout(240)


async def _roles(tenant_resources: Resources, tenant_id: str, users: list[Any]) -> list[Any]:
    tid = uuid.UUID(tenant_id)
    async with transaction(tenant_resources.database, tid) as db:
        repository = MembershipRepository(db, tid)
        rows = [await repository.of_user(u.id) for u in users]
    return [(r.role, r.status) if r else None for r in rows]


async def test_change_role_one_bad_row_never_fails_the_run(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    async with bulk_stack() as stack:
        a = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 3)
        b = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 1)
        m1, m2, m3 = a.members
        body = csv_of(
            [
                (str(m1.id), "", "admin"),
                ("", m2.email.upper(), "admin"),  # by address, any case
                (str(a.owner.id), "", "member"),  # the last owner: the tenant refuses it
                (str(b.members[0].id), "", "admin"),  # another tenant's member
                ("", "nobody@example.com", "admin"),
                ("not-an-id", "", "admin"),  # malformed
                (str(m3.id), "", "no such role!"),  # malformed
            ],
            header=("user_id", "email", "role"),
        )
        async with bulk_client(
            user_resources, auth_runtime, stack, a.owner.id, a.tenant_id, user_bulk_batch_size=3
        ) as client:
            started = await upload(client, "change_role", body)
            assert started.status_code == 202, started.text
            workflow_id = started.json()["workflow_id"]
            assert started.json()["total"] == 7 and started.json()["refused"] == 4
            result = await finished(temporal, workflow_id)
            handle = temporal.get_workflow_handle(workflow_id)
            await record_history(handle, "bulk_user_operation")
            progress = await handle.query(BulkUserOperationWorkflow.progress)
            got = await report(client, workflow_id)

    assert (result.done, result.failed, result.total) == (2, 5, 7)
    assert progress.state == "completed" and progress.step == progress.total == 7
    assert "2 done, 5 failed of 7" in progress.label
    assert got["status"] == "completed"
    assert rows_by_status(got) == {"done": [1, 2], "failed": [3, 4, 5, 6, 7]}
    errors = {r["row_number"]: r["error"] for r in got["rows"]}
    assert "owner" in errors[3]
    assert errors[4] == errors[5] == "not a member of this tenant"
    assert "user_id" in errors[6] and "role" in errors[7]
    assert [r["user_id"] for r in got["rows"][:2]] == [str(m1.id), str(m2.id)]
    assert await _roles(tenant_resources, a.tenant_id, [m1, m2, m3, a.owner]) == [
        ("admin", "active"),
        ("admin", "active"),
        ("member", "active"),
        ("owner", "active"),
    ]
    assert await _roles(tenant_resources, b.tenant_id, b.members) == [("member", "active")]


async def test_deactivate_and_delete(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    async with bulk_stack() as stack:
        a = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 4)
        m1, m2, m3, m4 = a.members
        async with bulk_client(
            user_resources, auth_runtime, stack, a.owner.id, a.tenant_id
        ) as client:
            ids = csv_of([(str(m1.id),), (str(m2.id),)], header=("user_id",))
            off = (await upload(client, "deactivate", ids)).json()["workflow_id"]
            emails = csv_of([(m3.email,)], header=("email",))
            gone = (await upload(client, "delete", emails)).json()["workflow_id"]
            off_result, gone_result = await asyncio.gather(
                finished(temporal, off), finished(temporal, gone)
            )
            csv_report = await client.get(f"/users/bulk/{off}/report", params={"format": "csv"})

    assert (off_result.done, off_result.failed) == (2, 0)
    assert (gone_result.done, gone_result.failed) == (1, 0)
    async with transaction(user_resources.database) as db:
        statuses = [(await ProfileRepository(db).get(m.id)).status for m in (m1, m2, m4)]  # type: ignore[union-attr]
    assert statuses == ["deactivated", "deactivated", "active"]
    assert await _roles(tenant_resources, a.tenant_id, [m1, m3, m4]) == [
        ("member", "suspended"),
        None,
        ("member", "active"),
    ]
    assert csv_report.status_code == 200
    assert csv_report.headers["content-type"].startswith("text/csv")
    lines = csv_report.text.strip().splitlines()
    assert lines[0] == "row_number,status,error,user_id,email"
    assert lines[1].startswith(f"1,done,,{m1.id}") and lines[2].startswith(f"2,done,,{m2.id}")


async def test_large_input_continues_as_new(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    async with bulk_stack() as stack:
        a = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 5)
        rows = [(str(m.id), "admin") for m in a.members]
        rows.insert(2, ("", "admin"))  # malformed: counted as failed from the start
        async with bulk_client(
            user_resources,
            auth_runtime,
            stack,
            a.owner.id,
            a.tenant_id,
            user_bulk_batch_size=1,
            user_bulk_rows_per_run=2,
        ) as client:
            answer = await upload(client, "change_role", csv_of(rows, ("user_id", "role")))
            workflow_id = answer.json()["workflow_id"]
            result = await finished(temporal, workflow_id)
            got = await report(client, workflow_id)
        latest = await temporal.get_workflow_handle(workflow_id).describe()
        first = latest.raw_description.workflow_execution_info.first_run_id

    assert (result.done, result.failed, result.total) == (5, 1, 6)
    assert rows_by_status(got) == {"done": [1, 2, 4, 5, 6], "failed": [3]}
    # Two rows a run: five pending rows take three runs, chained by continue-as-new.
    assert first and latest.run_id != first
    assert await _roles(tenant_resources, a.tenant_id, a.members) == [("admin", "active")] * 5


async def test_cancel_mid_way_stops_cleanly(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    async with bulk_stack() as stack:
        a = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 6)
        rows = [(str(m.id),) for m in a.members]
        async with bulk_client(
            user_resources,
            auth_runtime,
            stack,
            a.owner.id,
            a.tenant_id,
            user_bulk_batch_size=2,
            user_bulk_parallelism=1,
        ) as client:
            answer = await upload(client, "deactivate", csv_of(rows, ("user_id",)))
            workflow_id = answer.json()["workflow_id"]
            handle = temporal.get_workflow_handle(workflow_id)
            await cancel_after_first_row(handle)
            got = await report(client, workflow_id)
        description = await handle.describe()
        progress = await handle.query(BulkUserOperationWorkflow.progress)

    assert description.status == WorkflowExecutionStatus.CANCELED
    by = rows_by_status(got)
    assert got["status"] == "cancelled" and got["pending"] == 0
    done, cancelled = by.get("done", []), by.get("cancelled", [])
    # Every row either fully done or never started; at least one of each.
    assert done and cancelled and sorted(done + cancelled) == [1, 2, 3, 4, 5, 6]
    assert progress.state == "failed" and "cancelled" in progress.label
    async with transaction(user_resources.database) as db:
        statuses = [(await ProfileRepository(db).get(m.id)).status for m in a.members]  # type: ignore[union-attr]
    assert [s == "deactivated" for s in statuses] == [n in done for n in range(1, 7)]


async def test_cancel_during_a_step_of_the_run_stops_cleanly(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    """A cancel that lands while the run reads its rows (a slow ``user.load_bulk_rows``): nothing
    ran, every row is reported ``cancelled`` and the run ends cancelled, not failed."""
    real = BulkOperationActivities(user_resources)

    @LOAD_BULK_ROWS.implement
    async def slow_load(input: LoadBulkRowsInput) -> LoadBulkRowsOutput:
        await asyncio.sleep(3)
        return await real.load_bulk_rows(input)

    async with bulk_stack() as plain:
        a = await team(temporal, plain, auth_runtime, tenant_resources, user_resources, 2)
    async with bulk_stack(replace={LOAD_BULK_ROWS.name: slow_load}) as stack:
        rows = [(str(m.id),) for m in a.members]
        async with bulk_client(
            user_resources, auth_runtime, stack, a.owner.id, a.tenant_id
        ) as client:
            answer = await upload(client, "deactivate", csv_of(rows, ("user_id",)))
            workflow_id = answer.json()["workflow_id"]
            handle = temporal.get_workflow_handle(workflow_id)
            await asyncio.sleep(1)
            await handle.cancel()
            with pytest.raises(WorkflowFailureError):
                await asyncio.wait_for(handle.result(), 60)
            got = await report(client, workflow_id)
        description = await handle.describe()

    assert description.status == WorkflowExecutionStatus.CANCELED
    assert got["status"] == "cancelled" and rows_by_status(got) == {"cancelled": [1, 2]}
