"""tus uploads hold their ``Upload-Length`` at creation, over a real socket (``served``): of two
creations sent at once that together exceed the quota exactly one is created (201) and the other
refused 413; the hold goes when the last PATCH's row counts, and the room is back."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from storage.db import transaction
from storage.files.repository import UploadReservationRepository
from tests.file.file_api import FileApi, served

pytestmark = pytest.mark.timeout(120)
KIB = 1024
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture
async def base_url(file_api: FileApi) -> AsyncIterator[str]:
    async with served(file_api.app) as url:
        yield url


def _metadata(name: str) -> str:
    return f"filename {base64.b64encode(name.encode()).decode()}"


async def _held(api: FileApi, tenant_id: uuid.UUID) -> int:
    async with transaction(api.resources.database, tenant_id) as db:
        return await UploadReservationRepository(db, tenant_id).reserved_bytes()


async def test_creations_over_the_quota_together_one_is_created(
    file_api: FileApi, base_url: str
) -> None:
    caller = file_api.caller()
    await file_api.set_policy(caller.tenant_id, 300 * KIB)
    await file_api.publish_keys()
    own = {**TUS, "Authorization": f"Bearer {file_api.token(caller)}"}
    async with httpx.AsyncClient(base_url=base_url) as http:

        async def create(name: str, size: int) -> httpx.Response:
            return await http.post(
                "/uploads/tus/",
                headers={**own, "Upload-Length": str(size), "Upload-Metadata": _metadata(name)},
            )

        answers = await asyncio.gather(create("a.bin", 200 * KIB), create("b.bin", 200 * KIB))
        codes = sorted(a.status_code for a in answers)
        assert codes == [201, 413], [a.text for a in answers]
        assert await _held(file_api, caller.tenant_id) == 200 * KIB

        created = next(a for a in answers if a.status_code == 201)
        path = "/uploads/tus/" + created.headers["location"].rstrip("/").rsplit("/", 1)[1]
        done = await http.patch(
            path,
            content=b"z" * (200 * KIB),
            headers={
                **own,
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": "0",
            },
        )
        assert done.status_code == 204, done.text
        assert await _held(file_api, caller.tenant_id) == 0, "the hold outlived the upload"
        # The room left is the quota less the stored file: 100 KiB, not a byte more.
        assert (await create("c.bin", 100 * KIB)).status_code == 201
        assert (await create("d.bin", 1)).status_code == 413
