"""File metadata over HTTP: folders and files of a folder, search by name, cursor pages, rename,
move and soft delete (hidden at once from every read)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.file.file_api import Caller, FileApi


async def _put(api: FileApi, client: httpx.AsyncClient, name: str, folder: str) -> dict[str, Any]:
    answer = await api.upload(client, name, f"{folder}{name}\n".encode(), folder=folder)
    assert answer.status_code == 202, answer.text
    return await api.settled(client, answer.json()["file"]["id"])


async def _tree(api: FileApi, caller: Caller) -> None:
    async with api.client(caller) as client:
        for name, folder in [
            ("b.txt", "/"),
            ("a.txt", "/"),
            ("plan.txt", "/projects/"),
            ("Plan B.txt", "/projects/alpha/"),
            ("notes.txt", "/archive/2025/"),
        ]:
            await _put(api, client, name, folder)


async def test_folders_search_and_pages(file_api: FileApi) -> None:
    caller = file_api.caller()
    await _tree(file_api, caller)
    async with file_api.client(caller) as client:
        root = (await client.get("/files")).json()
        projects = (await client.get("/files", params={"folder": "/projects/"})).json()
        found = (await client.get("/files", params={"folder": "", "search": "PLAN"})).json()
        pattern = (await client.get("/files", params={"folder": "", "search": "%"})).json()
        first = (await client.get("/files", params={"first": 1})).json()
        second = (
            await client.get("/files", params={"first": 1, "after": first["next_cursor"]})
        ).json()
    assert [f["name"] for f in root["files"]] == ["a.txt", "b.txt"]
    assert root["folders"] == ["archive", "projects"] and root["next_cursor"] is None
    assert [f["name"] for f in projects["files"]] == ["plan.txt"] and projects["folders"] == [
        "alpha"
    ]
    assert sorted(f["name"] for f in found["files"]) == ["Plan B.txt", "plan.txt"]
    assert pattern["files"] == []  # LIKE wildcards are matched literally
    assert [f["name"] for f in first["files"]] == ["a.txt"]
    assert [f["name"] for f in second["files"]] == ["b.txt"] and second["next_cursor"] is None


async def test_rename_move_and_soft_delete(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        done = await _put(file_api, client, "draft.txt", "/")
        renamed = await client.patch(f"/files/{done['id']}/name", json={"name": "Final ü.txt"})
        moved = await client.patch(f"/files/{done['id']}/folder", json={"folder": "reports/q3"})
        assert (renamed.status_code, moved.status_code) == (200, 200)
        assert (moved.json()["name"], moved.json()["folder"]) == ("Final ü.txt", "/reports/q3/")
        assert (await client.delete(f"/files/{done['id']}")).status_code == 204
        gone = [
            await client.get(f"/files/{done['id']}"),
            await client.get(f"/files/{done['id']}/content"),
            await client.patch(f"/files/{done['id']}/name", json={"name": "again.txt"}),
            await client.delete(f"/files/{done['id']}"),
        ]
        listed = (await client.get("/files", params={"folder": "/reports/q3/"})).json()
    assert [g.status_code for g in gone] == [404, 404, 404, 404]
    assert listed["files"] == []
    row = await file_api.row(caller.tenant_id, done["id"])
    assert row is not None and row.deleted_at is not None  # soft: purged later


async def test_reading_needs_files_read(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller, permissions=()) as client:
        answer = await client.get("/files")
    assert answer.status_code == 403 and answer.json()["code"] == "PermissionDenied"
