"""Direct uploads end to end on the real stack: the bytes streamed into the blob store, the
``file_upload`` run validating and scanning them with a real clamd, the status the owner sees,
the run's progress. With ``ADX_RECORD_HISTORIES=1`` the runs are the replay histories
``tests/histories/file_upload*.json``."""

from __future__ import annotations

import hashlib

from temporalio.client import WorkflowHandle

from tests.auth.mail_flows import record_history
from tests.file.file_api import EICAR, FileApi
from workflows.common.progress import PROGRESS_QUERY, Progress

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")


async def test_upload_is_scanned_then_ready(file_api: FileApi) -> None:
    caller = file_api.caller()
    data = b"quarterly numbers\n" * 1000
    async with file_api.client(caller) as client:
        answer = await file_api.upload(client, "report.txt", data, folder="/finance/2026/")
        assert answer.status_code == 202, answer.text
        accepted = answer.json()
        assert accepted["file"]["status"] == "uploading"
        assert accepted["workflow_id"] == f"file-upload-{accepted['file']['id']}"
        done = await file_api.settled(client, accepted["file"]["id"])
    run: WorkflowHandle[object, object] = file_api.resources.temporal.get_workflow_handle(
        accepted["workflow_id"]
    )
    # The file is ready before the run ends (it still starts file_processing): wait for the end.
    await run.result()
    progress = await run.query(PROGRESS_QUERY, result_type=Progress)
    assert (progress.state, progress.percent, progress.label) == ("completed", 100, "ready")
    await record_history(run, "file_upload")
    assert done["status"] == "ready" and done["scan_verdict"] == "clean"
    assert done["size"] == len(data)
    assert done["sha256"] == hashlib.sha256(data).hexdigest()
    assert done["content_type"] == "text/plain"
    assert done["folder"] == "/finance/2026/" and done["owner_id"] == str(caller.user_id)


async def test_eicar_is_quarantined(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        answer = await file_api.upload(client, "invoice.pdf", EICAR)
        assert answer.status_code == 202, answer.text
        done = await file_api.settled(client, answer.json()["file"]["id"])
    run = file_api.resources.temporal.get_workflow_handle(answer.json()["workflow_id"])
    await record_history(run, "file_upload.quarantined")
    assert done["status"] == "quarantined" and done["scan_verdict"] == "infected"
    assert done["status_detail"].startswith("Adx.Test.EICAR")


async def test_no_scanner_says_not_scanned(unscanned_files: FileApi) -> None:
    caller = unscanned_files.caller()
    async with unscanned_files.client(caller) as client:
        answer = await unscanned_files.upload(client, "pixel.png", PNG)
        assert answer.status_code == 202, answer.text
        done = await unscanned_files.settled(client, answer.json()["file"]["id"])
    assert done["status"] == "ready" and done["scan_verdict"] == "not_scanned"
    assert done["content_type"] == "image/png"
