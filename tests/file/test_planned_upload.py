"""Planned uploads (``POST /uploads``): the file's ``file_upload`` run starts with the plan and
waits for the bytes (its progress says so), the uploader is named in its memo, the size is held
against the quota; the bytes sent where the plan says go on to ``ready`` under the plan's id.
A used, unknown or another tenant's plan is a 404, a plan another upload carries a 409, and a
plan whose bytes never come ends ``expired``. With ``ADX_RECORD_HISTORIES=1`` the planned run is
the replay history ``tests/histories/file_upload.planned.json``."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from temporalio.client import WorkflowHandle

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from services.file.uploads.planned import PlannedUpload
from storage.db import transaction
from storage.files.repository import UploadReservationRepository
from tests.auth.mail_flows import record_history
from tests.file.file_api import Caller, FileApi, file_service
from workflows.common.progress import PROGRESS_QUERY, Progress
from workflows.file.file_upload import FileUploadResult
from workflows.tenant.tenant_switching import OWNER_MEMO

DATA = b"planned numbers\n" * 2000


async def _plan(client: httpx.AsyncClient, size: int = len(DATA)) -> dict[str, Any]:
    answer = await client.post("/uploads", json={"name": "plan.txt", "folder": "/p/", "size": size})
    assert answer.status_code == 200, answer.text
    plan: dict[str, Any] = answer.json()
    return plan


async def _send(client: httpx.AsyncClient, plan: dict[str, Any], data: bytes) -> httpx.Response:
    return await client.post(plan["url"], content=data, headers=plan["headers"])


async def _held(api: FileApi, tenant_id: uuid.UUID) -> int:
    async with transaction(api.resources.database, tenant_id) as db:
        return await UploadReservationRepository(db, tenant_id).reserved_bytes()


def _run(api: FileApi, plan: dict[str, Any]) -> WorkflowHandle[Any, FileUploadResult]:
    return api.resources.temporal.get_workflow_handle(
        plan["workflow_id"], result_type=FileUploadResult
    )


async def test_the_run_waits_from_the_plan_then_the_bytes_make_it_ready(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        plan = await _plan(client)
        assert plan["protocol"] == "direct"
        assert plan["workflow_id"] == f"file-upload-{plan['file_id']}"
        assert parse_qs(urlsplit(plan["url"]).query)["upload_id"] == [plan["file_id"]]
        run = _run(file_api, plan)
        waiting = await run.query(PROGRESS_QUERY, result_type=Progress)
        assert (waiting.state, waiting.step) == ("waiting", 0), waiting
        assert waiting.label == f"receiving the bytes: 0 of {len(DATA)}"
        memo = await (await run.describe()).memo()
        assert memo[OWNER_MEMO] == str(caller.user_id)
        assert await _held(file_api, caller.tenant_id) == len(DATA)
        assert await file_api.rows(caller.tenant_id) == []  # no row before the bytes

        answer = await _send(client, plan, DATA)
        assert answer.status_code == 202, answer.text
        accepted = answer.json()
        assert accepted["file"]["id"] == plan["file_id"]
        assert accepted["workflow_id"] == plan["workflow_id"]
        done = await file_api.settled(client, plan["file_id"])
        result = await run.result()
        again = await _send(client, plan, DATA)  # the plan is spent
    assert done["status"] == "ready" and done["size"] == len(DATA)
    assert (result.status, result.file_id) == ("ready", plan["file_id"])
    final = await run.query(PROGRESS_QUERY, result_type=Progress)
    assert (final.state, final.label) == ("completed", "ready")
    assert await _held(file_api, caller.tenant_id) == 0
    assert again.status_code == 404, again.text
    await record_history(run, "file_upload.planned")


async def test_a_plan_is_its_tenants_and_one_uploads_at_a_time(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        plan = await _plan(client)
    intruder = file_api.caller()
    async with file_api.client(intruder) as theirs:
        foreign = await _send(theirs, plan, DATA)
    assert foreign.status_code == 404, foreign.text
    assert await file_api.rows(intruder.tenant_id) == []

    # Another upload of the same plan under way (its claim taken): this one is refused.
    carrying = PlannedUpload(file_api.resources, caller.tenant_id, uuid.UUID(plan["file_id"]))
    await carrying.claim()
    async with file_api.client(caller) as client:
        second = await _send(client, plan, DATA)
        assert second.status_code == 409, second.text
        await carrying.unclaim()
        unknown = {**plan, "url": plan["url"].replace(plan["file_id"], str(uuid.uuid4()))}
        assert (await _send(client, unknown, DATA)).status_code == 404
        sent = await _send(client, plan, DATA)  # the claim given back: the plan is usable
        assert sent.status_code == 202, sent.text
        done = await file_api.settled(client, plan["file_id"])
    assert done["status"] == "ready"


@pytest.fixture
async def short_plans(
    settings: Settings, file_resources: Resources, auth_runtime: AuthRuntime
) -> AsyncIterator[FileApi]:
    brief = settings.model_copy(update={"file_upload_plan_seconds": 5})
    async with file_service(brief, file_resources, auth_runtime, None) as api:
        yield api


async def test_a_plan_whose_bytes_never_come_expires(short_plans: FileApi) -> None:
    caller: Caller = short_plans.caller()
    async with short_plans.client(caller) as client:
        plan = await _plan(client)
        result = await asyncio.wait_for(_run(short_plans, plan).result(), 120)
        late = await _send(client, plan, DATA)
    assert (result.status, result.reason) == ("expired", "no bytes arrived")
    assert late.status_code == 404, late.text
    assert await short_plans.rows(caller.tenant_id) == []


async def test_a_planned_tus_upload_reports_its_bytes_to_the_run(file_api: FileApi) -> None:
    caller = file_api.caller()
    data = DATA * 8
    half = len(data) // 2
    async with file_api.client(caller) as client:
        plan = await _plan(client, len(data))
        run = _run(file_api, plan)
        metadata = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode()}"
            for key, value in (
                ("filename", "big.txt"),
                ("filetype", "text/plain"),
                ("upload_id", plan["file_id"]),
            )
        )
        tus = {"tus-resumable": "1.0.0"}
        created = await client.post(
            "/uploads/tus/",
            headers={**tus, "upload-length": str(len(data)), "upload-metadata": metadata},
        )
        assert created.status_code == 201, created.text
        location = urlsplit(created.headers["location"]).path
        assert uuid.UUID(location.rstrip("/").rsplit("/", 1)[1]) == uuid.UUID(plan["file_id"])
        twice = await client.post(
            "/uploads/tus/",
            headers={**tus, "upload-length": str(len(data)), "upload-metadata": metadata},
        )
        assert twice.status_code == 409, twice.text  # the plan is this upload's
        patch = {**tus, "content-type": "application/offset+octet-stream"}
        for offset, piece in ((0, data[:half]), (half, data[half:])):
            answer = await client.patch(
                location, content=piece, headers={**patch, "upload-offset": str(offset)}
            )
            assert answer.status_code == 204, answer.text
            if offset == 0:
                # Each PATCH tells the run what the earlier ones brought (none, before this).
                seen = await run.query(PROGRESS_QUERY, result_type=Progress)
                assert seen.label == f"receiving the bytes: 0 of {len(data)}", seen
        done = await file_api.settled(client, plan["file_id"])
    result = await run.result()
    assert (done["status"], done["size"], result.status) == ("ready", len(data), "ready")
    history = [e async for e in run.fetch_history_events()]
    signalled = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    # One per PATCH (0, then half the bytes), then the last one's "stored".
    assert signalled == ["upload_bytes"] * 3, signalled
