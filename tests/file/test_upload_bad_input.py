"""Bad input to the upload and metadata routes: every case a 4xx problem+json (or a ``rejected``
file), never a 500, and nothing half-written (no row, no blob, no temp file)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.file.file_api import FileApi

MB = 1024 * 1024


async def _assert_nothing_stored(api: FileApi, tenant_id: uuid.UUID) -> None:
    assert await api.rows(tenant_id) == []
    assert api.blob_files(tenant_id) == []


def _problem(answer: httpx.Response, status: int) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = answer.json()
    return body


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("../../etc/passwd", "/"),
        ("..", "/"),
        ("a\\..\\b.txt", "/"),
        ("report\x00.txt", "/"),
        ("bell\x07.txt", "/"),
        ("rtl\u202egnp.exe", "/"),
        ("x" * 256, "/"),
        ("x" * 60_000, "/"),  # as long as a URL gets (a MiB name: the rename's JSON below)
        ("ok.txt", "/../secrets/"),
        ("ok.txt", "/a//b/"),
        ("ok.txt", "/a\x00/"),
        ("ok.txt", "/" + "d/" * 600),
        ("", "/"),
    ],
)
async def test_bad_names_and_folders_are_refused(file_api: FileApi, name: str, folder: str) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        answer = await file_api.upload(client, name, b"data", folder=folder)
    _problem(answer, 422)
    await _assert_nothing_stored(file_api, caller.tenant_id)


async def test_invalid_utf8_in_the_query_is_no_server_error(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        answer = await client.post("/files?name=%FF%FE.txt&folder=%C0%AF", content=b"data")
    assert answer.status_code < 500, answer.text


async def test_empty_file_is_refused(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        answer = await file_api.upload(client, "empty.txt", b"")
    _problem(answer, 422)
    await _assert_nothing_stored(file_api, caller.tenant_id)


async def test_declared_length_over_the_quota_is_refused_before_any_byte(file_api: FileApi) -> None:
    caller = file_api.caller()
    await file_api.set_policy(caller.tenant_id, quota=1000)
    async with file_api.client(caller) as client:
        answer = await file_api.upload(client, "big.bin", b"x" * 2000)
    assert _problem(answer, 413)["code"] == "QuotaExceeded"
    await _assert_nothing_stored(file_api, caller.tenant_id)


async def test_undeclared_length_over_the_quota_stops_mid_stream(file_api: FileApi) -> None:
    caller = file_api.caller()
    await file_api.set_policy(caller.tenant_id, quota=300_000)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 64 * 1024

    async with file_api.client(caller) as client:
        answer = await client.post("/files", params={"name": "stream.bin"}, content=body())
    assert "content-length" not in answer.request.headers
    assert _problem(answer, 413)["code"] == "QuotaExceeded"
    await _assert_nothing_stored(file_api, caller.tenant_id)


async def test_quota_counts_what_is_stored_already(file_api: FileApi) -> None:
    caller = file_api.caller()
    await file_api.set_policy(caller.tenant_id, quota=1500)
    async with file_api.client(caller) as client:
        first = await file_api.upload(client, "one.txt", b"a" * 1000)
        assert first.status_code == 202, first.text
        second = await file_api.upload(client, "two.txt", b"b" * 1000)
    assert _problem(second, 413)["code"] == "QuotaExceeded"
    assert [r.name for r in await file_api.rows(caller.tenant_id)] == ["one.txt"]


async def test_upload_cancelled_mid_way_leaves_nothing(file_api: FileApi) -> None:
    caller = file_api.caller()

    class Cancelled(Exception):
        pass

    async def body() -> AsyncIterator[bytes]:
        yield b"z" * 256 * 1024
        yield b"z" * 256 * 1024
        raise Cancelled("the client went away")

    async with file_api.client(caller) as client:
        with pytest.raises(Cancelled):
            await client.post("/files", params={"name": "half.bin"}, content=body())
    await _assert_nothing_stored(file_api, caller.tenant_id)


async def test_type_outside_the_allow_list_is_rejected(file_api: FileApi) -> None:
    caller = file_api.caller()
    await file_api.set_policy(caller.tenant_id, quota=10 * MB, allowed=["image/*"])
    async with file_api.client(caller) as client:
        answer = await file_api.upload(client, "photo.png", b"just text, not a picture\n")
        assert answer.status_code == 202, answer.text
        done = await file_api.settled(client, answer.json()["file"]["id"])
    assert done["status"] == "rejected"
    assert "text/plain" in done["status_detail"]
    assert file_api.blob_files(caller.tenant_id) == []


async def test_html_claiming_to_be_png_is_stored_as_html(file_api: FileApi) -> None:
    caller = file_api.caller()
    page = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
    async with file_api.client(caller) as client:
        answer = await client.post(
            "/files",
            params={"name": "cat.png"},
            content=page,
            headers={"content-type": "image/png"},
        )
        assert answer.status_code == 202, answer.text
        done = await file_api.settled(client, answer.json()["file"]["id"])
    assert done["content_type"] == "text/html" and done["name"] == "cat.png"


async def test_without_files_write_nothing_is_uploaded(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller, permissions=("files.read",)) as client:
        answer = await file_api.upload(client, "a.txt", b"data")
    assert _problem(answer, 403)["code"] == "PermissionDenied"
    await _assert_nothing_stored(file_api, caller.tenant_id)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x" * 1000},
        {"name": "a\x00b"},
        {"name": "../up"},
        {"name": 42},
        {"name": ["a"]},
        {"name": "ok.txt", "extra": 1},
        {},
    ],
)
async def test_bad_renames_are_refused(file_api: FileApi, body: object) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        uploaded = await file_api.upload(client, "keep.txt", b"data")
        file_id = uploaded.json()["file"]["id"]
        answer = await client.patch(f"/files/{file_id}/name", json=body)
        _problem(answer, 422)
        raw = await client.patch(
            f"/files/{file_id}/name",
            content=b'{"name": "\xff\xfe"}',
            headers={"content-type": "application/json"},
        )
        assert 400 <= raw.status_code < 500
        moved = await client.patch(f"/files/{file_id}/folder", json={"folder": "/../../"})
        _problem(moved, 422)
        huge = await client.patch(f"/files/{file_id}/name", json={"name": "x" * MB})
        assert huge.status_code in (413, 422), huge.text
    row = await file_api.row(caller.tenant_id, file_id)
    assert row is not None and (row.name, row.folder) == ("keep.txt", "/")


@pytest.mark.parametrize(
    "params",
    [
        {"after": "not-a-cursor"},
        {"after": "x" * 3000},
        {"first": "0"},
        {"first": "many"},
        {"folder": "/../"},
        {"search": "x" * 60_000},
    ],
)
async def test_bad_list_parameters_are_refused(file_api: FileApi, params: dict[str, str]) -> None:
    async with file_api.client(file_api.caller()) as client:
        answer = await client.get("/files", params=params)
    _problem(answer, 422)
