"""Reservations on the real stack: two uploads that fit the tenant's quota alone but not
together, sent at the same time (each body held open until the other has started, or a few
seconds): with declared lengths exactly one is accepted and the other refused 413
``QuotaExceeded``; streamed ones never both. A refused or finished upload holds nothing after."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from storage.db import transaction
from storage.files.repository import UploadReservationRepository
from tests.file.file_api import Caller, FileApi

pytestmark = pytest.mark.timeout(120)
KIB = 1024
SIZE = 200 * KIB
CHUNK = 50 * KIB


class Overlap:
    """Each body sends its first chunk, then waits until both have (at most ``wait`` s): with no
    reservation both pass every check and stream at once."""

    def __init__(self, wait: float = 5.0) -> None:
        self.started = 0
        self.both = asyncio.Event()
        self.wait = wait

    async def body(self, fill: bytes) -> AsyncIterator[bytes]:
        yield fill * CHUNK
        self.started += 1
        if self.started == 2:
            self.both.set()
        try:
            await asyncio.wait_for(self.both.wait(), self.wait)
        except TimeoutError:
            pass
        for _ in range(SIZE // CHUNK - 1):
            yield fill * CHUNK


async def _send(
    api: FileApi, client: httpx.AsyncClient, overlap: Overlap, fill: bytes, declared: bool
) -> httpx.Response:
    headers = {"content-type": "application/octet-stream"}
    if declared:
        headers["content-length"] = str(SIZE)
    return await client.post(
        "/files",
        params={"name": f"{fill.decode()}.bin"},
        content=overlap.body(fill),
        headers=headers,
    )


async def _held(api: FileApi, tenant_id: uuid.UUID) -> int:
    async with transaction(api.resources.database, tenant_id) as db:
        return await UploadReservationRepository(db, tenant_id).reserved_bytes()


async def test_two_declared_uploads_over_the_quota_together_one_wins(file_api: FileApi) -> None:
    caller: Caller = file_api.caller()
    await file_api.set_policy(caller.tenant_id, 300 * KIB)
    overlap = Overlap()
    async with file_api.client(caller) as one, file_api.client(caller) as two:
        answers = await asyncio.gather(
            _send(file_api, one, overlap, b"a", declared=True),
            _send(file_api, two, overlap, b"b", declared=True),
        )
        codes = sorted(a.status_code for a in answers)
        assert codes == [202, 413], [a.text for a in answers]
        accepted = next(a for a in answers if a.status_code == 202)
        refused = next(a for a in answers if a.status_code == 413)
        assert refused.json()["code"] == "QuotaExceeded", refused.text
        done = await file_api.settled(one, accepted.json()["file"]["id"])
    assert done["status"] == "ready" and done["size"] == SIZE
    rows = await file_api.rows(caller.tenant_id)
    assert [r.size for r in rows] == [SIZE], "the refused upload left a row"
    assert await _held(file_api, caller.tenant_id) == 0, "a reservation outlived its upload"


async def test_two_streamed_uploads_never_overrun_the_quota(file_api: FileApi) -> None:
    """Undeclared lengths reserve as they stream: both may be cut off (each holding part of the
    room when the other asks for more), never both accepted."""
    caller: Caller = file_api.caller()
    await file_api.set_policy(caller.tenant_id, 300 * KIB)
    overlap = Overlap()
    async with file_api.client(caller) as one, file_api.client(caller) as two:
        answers = await asyncio.gather(
            _send(file_api, one, overlap, b"a", declared=False),
            _send(file_api, two, overlap, b"b", declared=False),
        )
        codes = [a.status_code for a in answers]
        assert codes.count(202) <= 1 and set(codes) <= {202, 413}, [a.text for a in answers]
        assert all(a.json()["code"] == "QuotaExceeded" for a in answers if a.status_code == 413)
        for answer in answers:
            if answer.status_code == 202:
                await file_api.settled(one, answer.json()["file"]["id"])
    rows = await file_api.rows(caller.tenant_id)
    assert sum(r.size for r in rows) <= 300 * KIB
    assert len(rows) == codes.count(202), "a refused upload left a row"
    assert await _held(file_api, caller.tenant_id) == 0, "a reservation outlived its upload"


async def test_a_reservation_holds_room_for_another_tenant_never(file_api: FileApi) -> None:
    """One tenant's holds count against its own quota only (the reservations' RLS)."""
    mine, theirs = file_api.caller(), file_api.caller()
    await file_api.set_policy(mine.tenant_id, 300 * KIB)
    await file_api.set_policy(theirs.tenant_id, 300 * KIB)
    upload = uuid.uuid4()
    async with transaction(file_api.resources.database, theirs.tenant_id) as db:
        taken = await UploadReservationRepository(db, theirs.tenant_id).reserve(
            upload, 250 * KIB, default_quota=300 * KIB
        )
    assert taken
    assert await _held(file_api, mine.tenant_id) == 0
    async with file_api.client(mine) as client:
        answer = await file_api.upload(client, "mine.bin", b"m" * SIZE)
        assert answer.status_code == 202, answer.text
        await file_api.settled(client, answer.json()["file"]["id"])
    async with transaction(file_api.resources.database, theirs.tenant_id) as db:
        repository = UploadReservationRepository(db, theirs.tenant_id)
        assert not await repository.reserve(uuid.uuid4(), 100 * KIB, default_quota=300 * KIB)
        await repository.release(upload)
