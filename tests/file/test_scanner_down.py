"""Fail closed: with clamd configured but down, an upload waits in ``scanning`` (the scan step is
retried, never skipped) and becomes ready once clamd is back."""

from __future__ import annotations

import asyncio

import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from services.devstack.clamav import start_clamd
from services.devstack.ports import free_port
from tests.file.file_api import file_service


async def test_upload_waits_in_scanning_until_clamd_returns(
    settings: Settings,
    file_resources: Resources,
    auth_runtime: AuthRuntime,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    base, port = tmp_path_factory.mktemp("clamd-down"), free_port()
    clamd = await asyncio.to_thread(start_clamd, base, port, die_with_parent=True)
    async with file_service(settings, file_resources, auth_runtime, clamd.address) as api:
        await asyncio.to_thread(clamd.process.stop)
        caller = api.caller()
        async with api.client(caller) as client:
            answer = await api.upload(client, "notes.txt", b"meeting notes\n" * 50)
            assert answer.status_code == 202, answer.text
            file_id = answer.json()["file"]["id"]
            await asyncio.sleep(4)  # several scan attempts fail meanwhile
            waiting = (await client.get(f"/files/{file_id}")).json()
            assert (waiting["status"], waiting["scan_verdict"]) == ("scanning", "pending")
            assert (await client.get(f"/files/{file_id}/content")).status_code == 409
            clamd = await asyncio.to_thread(start_clamd, base, port, die_with_parent=True)
            try:
                done = await api.settled(client, file_id, timeout=60)
            finally:
                await asyncio.to_thread(clamd.process.stop)
    assert (done["status"], done["scan_verdict"]) == ("ready", "clean")
