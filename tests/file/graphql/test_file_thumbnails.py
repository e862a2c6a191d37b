"""``File.thumbnails`` and ``File.processing`` through the real gateway (the stack's processes):
a PNG uploaded as ``createUpload`` says gets its thumbnails, whose URLs download WebP images;
a text file is ``skipped`` with none; a list of processed files with their thumbnails still
costs one file-service call (the processing comes in the file service's own answer)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import ServiceName
from tests.file.graphql.file_graphql import data_of, settled, upload
from tests.file.processing.images import png
from tests.gateway.efficiency.counting import counting_calls, stack_gateway
from tests.graphql_client import gql
from tests.support import Stack
from tests.user.graphql.user_graphql import seed_team, token_of

PROCESSED = """query($id: ID!) { file(id: $id) {
  status
  processing { status detail width height pageCount }
  thumbnails { size width height url }
} }"""
LISTED = """query { files(first: 100) { edges { node {
  name processing { status } thumbnails { size url }
} } } }"""


async def processed(stack: Stack, token: str, file_id: str, timeout: float = 60.0) -> Any:
    """``file(id)`` once file processing has recorded its outcome."""
    await settled(stack, token, file_id)
    deadline = time.monotonic() + timeout
    while True:
        row = data_of(await gql(stack.graphql, PROCESSED, {"id": file_id}, token=token), "file")
        if row["processing"] and row["processing"]["status"] != "pending":
            return row
        assert time.monotonic() < deadline, f"still {row['processing']}"
        await asyncio.sleep(0.2)


async def test_a_png_has_thumbnails_that_download_as_webp(
    stack: Stack,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, [("Owner", "owner")])
    owner = team.members[0][0]
    token = await token_of(stack.graphql, owner, team.tenant_id)
    image = (await upload(stack, token, "photo.png", png(640, 480)))["file"]["id"]
    text = (await upload(stack, token, "notes.txt", b"just words\n"))["file"]["id"]

    row = await processed(stack, token, image)
    assert row["processing"] == {
        "status": "done",
        "detail": None,
        "width": 640,
        "height": 480,
        "pageCount": None,
    }
    thumbnails = row["thumbnails"]
    assert [(t["size"], t["width"], t["height"]) for t in thumbnails] == [
        (128, 128, 96),
        (512, 512, 384),
    ]
    async with httpx.AsyncClient(timeout=30) as client:
        for thumbnail in thumbnails:
            assert thumbnail["url"] == f"/files/{image}/thumbnails/{thumbnail['size']}"
            answer = await client.get(
                stack.url(ServiceName.file, thumbnail["url"]),
                headers={"authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"] == "image/webp"
            assert answer.content[:4] == b"RIFF" and answer.content[8:12] == b"WEBP"

    skipped = await processed(stack, token, text)
    assert skipped["processing"]["status"] == "skipped"
    assert skipped["thumbnails"] == []


@pytest.mark.parametrize("images", [3])
async def test_a_list_with_thumbnails_costs_one_file_service_call(
    stack: Stack,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
    gateway_resources: Resources,
    monkeypatch: pytest.MonkeyPatch,
    images: int,
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, [("Owner", "owner")])
    token = await token_of(stack.graphql, team.members[0][0], team.tenant_id)
    ids = [
        (await upload(stack, token, f"p{i}.png", png(300 + i, 200)))["file"]["id"]
        for i in range(images)
    ]
    for file_id in ids:
        await processed(stack, token, file_id)

    headers = {"authorization": f"Bearer {token}"}
    async with stack_gateway(gateway_resources, stack) as client:
        await client.post("/graphql", json={"query": "{ me { userId } }"}, headers=headers)
        with counting_calls(monkeypatch, stack) as calls:
            response = await client.post("/graphql", json={"query": LISTED}, headers=headers)
    body = response.json()
    assert not body.get("errors"), body
    nodes = [e["node"] for e in body["data"]["files"]["edges"]]
    assert sorted(n["name"] for n in nodes) == [f"p{i}.png" for i in range(images)]
    for node in nodes:
        assert node["processing"] == {"status": "done"}
        assert [t["size"] for t in node["thumbnails"]] == [128, 512]
    assert calls.of(ServiceName.file) == 1, calls.seen
