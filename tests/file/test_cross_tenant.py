"""Cross-tenant matrix: for every route of the file app that names a file (enumerated, so a route
added later is covered or fails here), a member of tenant B with every file permission gets 404
for tenant A's file, exactly as for an unknown id; signed links of A's file do not open with
B's tenant in the path; A's row and bytes are unchanged afterwards."""

from __future__ import annotations

import uuid
from typing import Any

from services.common.principal import route_operations
from tests.file.file_api import FileApi

BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/files/{file_id}/name"): {"name": "hijacked.txt"},
    ("PATCH", "/files/{file_id}/folder"): {"folder": "/stolen/"},
    ("POST", "/files/{file_id}/shares"): {"kind": "tenant", "permission": "editor"},
}
ALL = ("files.read", "files.write", "files.share")
#: The other path parameters of the file routes (a thumbnail's size, a share's id).
PARAMETERS: dict[str, Any] = {"size": 128, "share_id": uuid.uuid4()}


def file_routes(api: FileApi) -> list[tuple[str, str]]:
    return sorted(
        (method, path)
        for _, method, path in route_operations(api.app)
        if "{file_id}" in path and not path.startswith("/files/signed/")
    )


async def test_every_file_route_answers_another_tenant_404(file_api: FileApi) -> None:
    owner, stranger = file_api.caller(), file_api.caller()
    async with file_api.client(owner) as client:
        answer = await file_api.upload(client, "secret.txt", b"tenant A's secret\n")
        file_id = answer.json()["file"]["id"]
        before = await file_api.settled(client, file_id)
        link = (await client.post(f"/files/{file_id}/signed-url")).json()["url"]
    routes = file_routes(file_api)
    assert {("GET", "/files/{file_id}/content"), ("DELETE", "/files/{file_id}")} <= set(routes)
    assert {
        ("POST", "/files/{file_id}/shares"),
        ("GET", "/files/{file_id}/shares"),
        ("DELETE", "/files/{file_id}/shares/{share_id}"),
    } <= set(routes)
    answers: dict[str, tuple[int, int]] = {}
    async with file_api.client(stranger, permissions=ALL) as client:
        for method, path in routes:
            body = BODIES.get((method, path))
            theirs = await client.request(
                method, path.format(file_id=file_id, **PARAMETERS), json=body
            )
            unknown = await client.request(
                method, path.format(file_id=uuid.uuid4(), **PARAMETERS), json=body
            )
            answers[f"{method} {path}"] = (theirs.status_code, unknown.status_code)
        listed = (await client.get("/files", params={"folder": "", "search": "secret"})).json()
    assert all(pair == (404, 404) for pair in answers.values()), answers
    assert listed["files"] == []
    async with file_api.client(None) as anonymous:
        moved = link.replace(str(owner.tenant_id), str(stranger.tenant_id))
        assert (await anonymous.get(moved)).status_code == 403
        assert (await anonymous.get(link)).status_code == 200
    async with file_api.client(owner) as client:
        after = (await client.get(f"/files/{file_id}")).json()
        content = await client.get(f"/files/{file_id}/content")
    # (its processing goes on by itself meanwhile: pending, then skipped for a text file)
    unchanged = {k: v for k, v in after.items() if k != "processing"}
    assert unchanged == {k: v for k, v in before.items() if k != "processing"}
    assert content.content == b"tenant A's secret\n"
