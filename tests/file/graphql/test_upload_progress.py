"""``createUpload`` answers the file's ``file_upload`` run, started before any byte: the uploader
subscribes to ``workflowProgress`` with the run's access token first, sees it wait for the bytes,
sends them where the plan says, and follows the run through validation and the scan to
``ready``. Through the real gateway and file service (the stack's processes)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import ServiceName
from tests.file.graphql.file_graphql import data_of, settled
from tests.graphql_client import gql, subscribe
from tests.support import Stack
from tests.user.graphql.user_graphql import seed_team, token_of

PLAN = """mutation($input: CreateUploadInput!) {
  createUpload(input: $input) {
    protocol method url headers { name value } fileId workflowId
    run { id type status accessToken progress { state label } }
  }
}"""
PROGRESS = """subscription($id: ID!, $token: String) {
  workflowProgress(id: $id, accessToken: $token) {
    id status result progress { step total percent state label }
  }
}"""
#: The labels of a file_upload run, in order (the relay samples them: some may be skipped).
ORDER = ["receiving the bytes", "validating", "scanning for viruses", "finishing", "ready"]
DATA = b"minutes of the board meeting\n" * 500


def _stage(label: str) -> int:
    return next(i for i, known in enumerate(ORDER) if label.startswith(known))


async def test_create_upload_answers_the_run_the_uploader_follows_to_ready(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, user_resources: Resources
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, [("Una Up", "owner")])
    token = await token_of(stack.graphql, team.owner, team.tenant_id)
    variables = {"input": {"name": "minutes.txt", "folder": "/board/", "size": len(DATA)}}
    target = data_of(await gql(stack.graphql, PLAN, variables, token=token), "createUpload")
    run = target["run"]
    assert run["id"] == target["workflowId"] == f"file-upload-{target['fileId']}", target
    assert (run["type"], run["status"]) == ("file_upload", "RUNNING"), run
    assert run["accessToken"], run

    updates: list[dict[str, Any]] = []

    async def follow() -> None:
        variables = {"id": run["id"], "token": run["accessToken"]}
        async for update in subscribe(stack.graphql_ws, PROGRESS, variables):
            assert not update.get("errors"), update
            updates.append(update["data"]["workflowProgress"])

    following = asyncio.create_task(asyncio.wait_for(follow(), 120))
    deadline = time.monotonic() + 60
    while not updates:  # the subscription is live before any byte is sent
        assert time.monotonic() < deadline and not following.done(), "no progress before bytes"
        await asyncio.sleep(0.1)
    first = updates[0]["progress"]
    assert (first["state"], first["label"]) == ("waiting", f"receiving the bytes: 0 of {len(DATA)}")

    headers = {h["name"]: h["value"] for h in target["headers"]}
    async with httpx.AsyncClient(timeout=30) as client:
        sent = await client.request(
            target["method"],
            stack.url(ServiceName.file, target["url"]),
            content=DATA,
            headers={**headers, "authorization": f"Bearer {token}"},
        )
    assert sent.status_code == 202, sent.text
    assert sent.json()["file"]["id"] == target["fileId"]
    await following

    last = updates[-1]
    assert last["status"] == "COMPLETED", updates
    assert (last["progress"]["state"], last["progress"]["label"]) == ("completed", "ready")
    assert last["result"]["status"] == "ready", last
    stages = [_stage(u["progress"]["label"]) for u in updates if u["progress"]]
    assert stages == sorted(stages), [u["progress"]["label"] for u in updates]
    assert len(set(stages)) >= 2, updates  # followed from waiting to ready, not only the end
    row = await settled(stack, token, target["fileId"])
    assert (row["status"], row["workflowId"]) == ("ready", run["id"])
