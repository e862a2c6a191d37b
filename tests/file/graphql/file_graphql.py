"""Helpers of the file GraphQL tests: a team seeded like the user GraphQL tests (auth, tenant and
user rows), and uploads sent where ``createUpload`` says, to the stack's file service."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from services.common.settings import ServiceName
from tests.graphql_client import gql
from tests.support import Stack

FILE_FIELDS = "id name folder size contentType sha256 status scanVerdict ownerId workflowId"
FILES = f"""query($folder: String, $search: String, $first: Int!, $after: String) {{
  files(folder: $folder, search: $search, first: $first, after: $after) {{
    edges {{ cursor node {{ {FILE_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
    folders
  }}
}}"""
FILE = f"query($id: ID!) {{ file(id: $id) {{ {FILE_FIELDS} thumbnails {{ url }} }} }}"
DOWNLOAD_URL = "query($id: ID!) { file(id: $id) { downloadUrl } }"
CREATE_UPLOAD = """mutation($input: CreateUploadInput!) {
  createUpload(input: $input) {
    protocol method url headers { name value } maxDirectBytes roomBytes fileId workflowId
  }
}"""
RENAME = "mutation($id: ID!, $name: String!) { renameFile(id: $id, name: $name) { id name } }"
MOVE = "mutation($id: ID!, $folder: String!) { moveFile(id: $id, folder: $folder) { id folder } }"
DELETE = "mutation($id: ID!) { deleteFile(id: $id) }"


def data_of(body: dict[str, Any], field: str) -> Any:
    assert not body.get("errors"), body
    return body["data"][field]


async def upload(
    stack: Stack, token: str, name: str, data: bytes, folder: str = "/"
) -> dict[str, Any]:
    """``createUpload``, then the bytes sent as it says; the file service's answer."""
    target = data_of(
        await gql(
            stack.graphql,
            CREATE_UPLOAD,
            {"input": {"name": name, "folder": folder, "size": len(data)}},
            token=token,
        ),
        "createUpload",
    )
    assert target["protocol"] == "direct", target
    headers = {h["name"]: h["value"] for h in target["headers"]}
    headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.request(
            target["method"],
            stack.url(ServiceName.file, target["url"]),
            content=data,
            headers=headers,
        )
    assert answer.status_code == 202, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def settled(stack: Stack, token: str, file_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """``file(id)`` once its run has ended (ready, quarantined or rejected)."""
    deadline = time.monotonic() + timeout
    while True:
        row = data_of(await gql(stack.graphql, FILE, {"id": file_id}, token=token), "file")
        if row["status"] in {"ready", "quarantined", "rejected"}:
            return row  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"file still {row['status']}"
        await asyncio.sleep(0.2)
