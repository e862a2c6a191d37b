"""Resumable uploads with tus 1.0 through a real HTTP server and the ``tuspy`` client: an upload
sent in chunks, interrupted, resumed from the offset the server reports, then scanned and ready
like a direct upload; a wrong offset 409; another tenant's upload not found; creation refused
for a bad name, an over-quota length or a deferred length."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from tusclient import client as tus

from tests.file.file_api import Caller, FileApi, served

MIB = 1024 * 1024
DATA = os.urandom(3 * MIB + 12345)
CHUNK = 256 * 1024


@pytest.fixture
async def base_url(file_api: FileApi) -> AsyncIterator[str]:
    async with served(file_api.app) as url:
        yield url


def _metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _client(api: FileApi, base: str, caller: Caller) -> tus.TusClient:
    return tus.TusClient(
        f"{base}/uploads/tus/", headers={"Authorization": f"Bearer {api.token(caller)}"}
    )


async def test_interrupted_upload_resumes_from_its_offset(file_api: FileApi, base_url: str) -> None:
    caller = file_api.caller()
    await file_api.publish_keys()
    meta = {"filename": "backup.tar", "filetype": "application/x-tar", "folder": "/backups/"}

    def first_part() -> tuple[str, int]:
        uploader = _client(file_api, base_url, caller).uploader(
            file_stream=io.BytesIO(DATA), chunk_size=CHUNK, metadata=meta
        )
        uploader.upload(stop_at=5 * CHUNK)  # then the connection "drops"
        return str(uploader.url), uploader.offset

    url, sent = await asyncio.to_thread(first_part)
    assert sent == 5 * CHUNK

    def resume() -> int:
        uploader = _client(file_api, base_url, caller).uploader(
            file_stream=io.BytesIO(DATA), chunk_size=CHUNK, url=url, metadata=meta
        )
        resumed_at = uploader.get_offset()
        uploader.offset = resumed_at
        uploader.upload()
        return resumed_at

    assert await asyncio.to_thread(resume) == 5 * CHUNK
    file_id = url.rstrip("/").rsplit("/", 1)[1]
    async with file_api.client(caller) as client:
        done = await file_api.settled(client, str(uuid.UUID(file_id)))
        content = await client.get(f"/files/{done['id']}/content")
    assert (done["status"], done["scan_verdict"], done["folder"]) == ("ready", "clean", "/backups/")
    assert done["sha256"] == hashlib.sha256(DATA).hexdigest() and content.content == DATA
    assert not list((file_api.settings.tus_root() / str(caller.tenant_id)).glob(file_id + "*"))


async def test_wrong_offset_is_a_conflict_and_other_tenants_see_nothing(
    file_api: FileApi, base_url: str
) -> None:
    caller, stranger = file_api.caller(), file_api.caller()
    await file_api.publish_keys()
    tus_headers = {"Tus-Resumable": "1.0.0"}
    async with httpx.AsyncClient(base_url=base_url) as http:
        own = {**tus_headers, "Authorization": f"Bearer {file_api.token(caller)}"}
        created = await http.post(
            "/uploads/tus/",
            headers={
                **own,
                "Upload-Length": "1000",
                "Upload-Metadata": _metadata(filename="a.bin", filetype="application/octet-stream"),
            },
        )
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        path = "/uploads/tus/" + location.rstrip("/").rsplit("/", 1)[1]
        patch = {**own, "Content-Type": "application/offset+octet-stream"}
        first = await http.patch(path, content=b"a" * 400, headers={**patch, "Upload-Offset": "0"})
        assert (first.status_code, first.headers["upload-offset"]) == (204, "400")
        wrong = await http.patch(path, content=b"b" * 100, headers={**patch, "Upload-Offset": "0"})
        assert wrong.status_code == 409
        head = await http.head(path, headers=own)
        assert head.headers["upload-offset"] == "400"
        theirs = {**tus_headers, "Authorization": f"Bearer {file_api.token(stranger)}"}
        assert (await http.head(path, headers=theirs)).status_code == 404
        stolen = await http.patch(
            path,
            content=b"c" * 600,
            headers={
                **theirs,
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": "400",
            },
        )
        assert stolen.status_code == 404
        assert (await http.delete(path, headers=theirs)).status_code == 404
        assert (await http.head(path, headers=own)).headers["upload-offset"] == "400"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Upload-Length": "10", "Upload-Metadata": _metadata(filename="../x", filetype="t")}, 422),
        (
            {"Upload-Length": "10", "Upload-Metadata": _metadata(filename="a\x00b", filetype="t")},
            422,
        ),
        ({"Upload-Length": "10", "Upload-Metadata": _metadata(filetype="t")}, 422),
        (
            {"Upload-Defer-Length": "1", "Upload-Metadata": _metadata(filename="a", filetype="t")},
            422,
        ),
        (
            {
                "Upload-Length": str(10 * 1024**4),
                "Upload-Metadata": _metadata(filename="a", filetype="t"),
            },
            413,
        ),
        ({"Upload-Length": "10", "Upload-Metadata": "filename !!!notbase64"}, 422),
        ({"Upload-Length": "ten", "Upload-Metadata": _metadata(filename="a", filetype="t")}, 422),
    ],
)
async def test_bad_creations_are_refused(
    file_api: FileApi, base_url: str, headers: dict[str, str], status: int
) -> None:
    caller = file_api.caller()
    await file_api.publish_keys()
    async with httpx.AsyncClient(base_url=base_url) as http:
        answer = await http.post(
            "/uploads/tus/",
            headers={
                "Tus-Resumable": "1.0.0",
                "Authorization": f"Bearer {file_api.token(caller)}",
                **headers,
            },
        )
    assert answer.status_code == status, answer.text
    assert not (file_api.settings.tus_root() / str(caller.tenant_id)).exists() or not list(
        (file_api.settings.tus_root() / str(caller.tenant_id)).iterdir()
    )


async def test_over_quota_at_creation(file_api: FileApi, base_url: str) -> None:
    caller = file_api.caller()
    await file_api.set_policy(caller.tenant_id, quota=1000)
    await file_api.publish_keys()
    async with httpx.AsyncClient(base_url=base_url) as http:
        answer = await http.post(
            "/uploads/tus/",
            headers={
                "Tus-Resumable": "1.0.0",
                "Authorization": f"Bearer {file_api.token(caller)}",
                "Upload-Length": "2000",
                "Upload-Metadata": _metadata(filename="big.bin", filetype="x"),
            },
        )
    assert answer.status_code == 413 and answer.json()["code"] == "QuotaExceeded"
