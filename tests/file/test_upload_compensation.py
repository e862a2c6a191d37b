"""The ``file_upload`` saga: a step that fails for good (here the scan, refused by a stand-in
registered under its contract) ends in the compensation: the blob deleted, the file
``rejected`` with the reason, the run failed with the file domain's error type."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from tests.file.file_api import file_service
from workflows.common.errors import business_error
from workflows.file import contracts


@contracts.SCAN_UPLOAD.implement
async def refusing_scan(input: contracts.UploadStepInput) -> contracts.ScanUploadOutput:
    raise business_error(contracts.FileError.SCAN_FAILED, "clamd refused the stream")


async def test_a_failed_step_rejects_the_file_and_deletes_its_blob(
    settings: Settings, file_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    replace = {"file.scan_upload": refusing_scan}
    async with file_service(settings, file_resources, auth_runtime, None, replace) as api:
        caller = api.caller()
        async with api.client(caller) as client:
            answer = await api.upload(client, "contract.txt", b"terms and conditions\n")
            assert answer.status_code == 202, answer.text
            run = api.resources.temporal.get_workflow_handle(answer.json()["workflow_id"])
            with pytest.raises(WorkflowFailureError):
                await run.result()
            done = await api.settled(client, answer.json()["file"]["id"])
            content = await client.get(f"/files/{done['id']}/content")
    assert done["status"] == "rejected"
    assert done["status_detail"] == "ScanFailed: clamd refused the stream"
    assert content.status_code == 409
    assert api.blob_files(caller.tenant_id) == []
