"""The file service through the real gateway (the stack's processes): an upload planned by
``createUpload`` and sent where it says reaches ``ready``; ``files`` lists, searches and pages;
``file(id)``'s ``downloadUrl`` downloads the bytes; rename, move and delete; a large file is
sent to tus, whose server takes the headers given."""

from __future__ import annotations

import hashlib

import httpx

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import ServiceName
from tests.file.graphql.file_graphql import (
    CREATE_UPLOAD,
    DELETE,
    DOWNLOAD_URL,
    FILE,
    FILES,
    MOVE,
    RENAME,
    data_of,
    settled,
    upload,
)
from tests.graphql_client import gql
from tests.support import Stack
from tests.tenant.graphql.tenant_graphql import code_of
from tests.user.graphql.user_graphql import seed_team, token_of

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


async def test_upload_list_download_rename_move_delete(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, user_resources: Resources
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, [("Fay Owner", "owner")])
    token = await token_of(stack.graphql, team.owner, team.tenant_id)

    accepted = await upload(stack, token, "report.pdf", PDF, folder="/reports/")
    file_id = accepted["file"]["id"]
    ready = await settled(stack, token, file_id)
    assert ready["status"] == "ready", ready
    assert ready["contentType"] == "application/pdf"
    assert ready["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert ready["size"] == len(PDF) and ready["folder"] == "/reports/"
    assert ready["ownerId"] == str(team.owner.id)
    assert ready["workflowId"] == accepted["workflow_id"]
    assert ready["thumbnails"] == []

    url = data_of(await gql(stack.graphql, DOWNLOAD_URL, {"id": file_id}, token=token), "file")
    async with httpx.AsyncClient(timeout=30) as client:  # no bearer token: the link is enough
        downloaded = await client.get(stack.url(ServiceName.file, url["downloadUrl"]))
    assert downloaded.status_code == 200 and downloaded.content == PDF

    for index in range(4):
        await upload(stack, token, f"note-{index}.txt", f"note {index}\n".encode(), "/reports/")
    root = data_of(await gql(stack.graphql, FILES, {"first": 10}, token=token), "files")
    assert root["edges"] == [] and root["folders"] == ["reports"], root

    names: list[str] = []
    after = None
    for _ in range(5):
        variables = {"folder": "/reports/", "first": 2, "after": after}
        page = data_of(await gql(stack.graphql, FILES, variables, token=token), "files")
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert names == ["note-0.txt", "note-1.txt", "note-2.txt", "note-3.txt", "report.pdf"]

    found = data_of(
        await gql(
            stack.graphql, FILES, {"folder": None, "search": "repo", "first": 5}, token=token
        ),
        "files",
    )
    assert [e["node"]["id"] for e in found["edges"]] == [file_id]

    renamed = await gql(stack.graphql, RENAME, {"id": file_id, "name": "q4.pdf"}, token=token)
    moved = await gql(stack.graphql, MOVE, {"id": file_id, "folder": "/archive/"}, token=token)
    assert data_of(renamed, "renameFile") == {"id": file_id, "name": "q4.pdf"}
    assert data_of(moved, "moveFile") == {"id": file_id, "folder": "/archive/"}
    row = data_of(await gql(stack.graphql, FILE, {"id": file_id}, token=token), "file")
    assert (row["name"], row["folder"]) == ("q4.pdf", "/archive/")

    deleted = await gql(stack.graphql, DELETE, {"id": file_id}, token=token)
    assert data_of(deleted, "deleteFile") is True
    gone = await gql(stack.graphql, FILE, {"id": file_id}, token=token)
    assert gone["data"] is None and code_of(gone) == "NOT_FOUND", gone
    listed = await gql(stack.graphql, FILES, {"folder": "/archive/", "first": 5}, token=token)
    assert data_of(listed, "files")["edges"] == []


async def test_a_large_file_is_sent_to_tus_with_headers_its_server_takes(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, user_resources: Resources
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, [("Tim Tus", "owner")])
    token = await token_of(stack.graphql, team.owner, team.tenant_id)
    small = data_of(
        await gql(
            stack.graphql, CREATE_UPLOAD, {"input": {"name": "a.txt", "size": 10}}, token=token
        ),
        "createUpload",
    )
    size = int(small["maxDirectBytes"]) + 1
    target = data_of(
        await gql(
            stack.graphql,
            CREATE_UPLOAD,
            {"input": {"name": "big.bin", "folder": "/big/", "size": size}},
            token=token,
        ),
        "createUpload",
    )
    assert target["protocol"] == "tus" and target["url"] == "/uploads/tus", target
    # The plan's id is the tus upload's (its metadata names it) and the run's.
    assert target["workflowId"] == f"file-upload-{target['fileId']}"
    headers = {h["name"]: h["value"] for h in target["headers"]}
    assert headers["Upload-Length"] == str(size)
    async with httpx.AsyncClient(timeout=30) as client:
        created = await client.post(
            stack.url(ServiceName.file, target["url"]),
            headers={**headers, "authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        assert location.rstrip("/").rsplit("/", 1)[-1].replace("-", "") == target["fileId"].replace(
            "-", ""
        )
        tus = {"tus-resumable": "1.0.0", "authorization": f"Bearer {token}"}
        head = await client.head(location, headers=tus)
        assert head.status_code == 200, head.text
        assert (head.headers["upload-offset"], head.headers["upload-length"]) == ("0", str(size))
        # Nothing more sent: terminated, it leaves no file behind.
        assert (await client.delete(location, headers=tus)).status_code == 204
    listed = await gql(stack.graphql, FILES, {"folder": "/big/", "first": 5}, token=token)
    assert data_of(listed, "files")["edges"] == []
