"""``gdpr_export`` on the real stack: the link stops working when it expires (the run then
removes the archive and completes: recorded as ``tests/histories/gdpr_export.json`` with
``ADX_RECORD_HISTORIES=1``); a failed archive build leaves no part and no archive behind; a
forged, altered or another export's link is refused; only the person's own data is exported."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from services.auth.runtime import AuthRuntime
from tests.auth.mail_flows import plain_text, record_history, wait_for_outbox
from tests.auth.users import create_user
from tests.workflow.compliance.people import member_with_data, provisioned
from workflows.common.compliance import export_archive_key, export_part_key
from workflows.compliance.contracts import ExportResult
from workflows.file.compliance_contracts import BUILD_EXPORT_ARCHIVE

pytestmark = pytest.mark.timeout(180)
LINK = re.compile(r"(/compliance/exports/([a-f0-9]{24})/archive\?\S+)")


async def test_the_link_expires_and_the_archive_goes(
    temporal: Client, compliance_stack: Any, auth_runtime: AuthRuntime
) -> None:
    owner = await create_user(auth_runtime)
    async with compliance_stack(link_seconds=20) as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        person = await member_with_data(auth_runtime, stack, tenant_id)
        other = await member_with_data(auth_runtime, stack, tenant_id)
        async with stack.api.client(person.caller) as client:
            started = await client.post("/compliance/exports")
            assert started.status_code == 202, started.text
            mail = (await wait_for_outbox(stack.api.resources.settings, person.account.email))[-1]
            link = LINK.search(plain_text(mail))
            assert link
            path, export_id = link.group(1), link.group(2)
            first = await client.get(path)
            assert first.status_code == 200, first.text
            archive = zipfile.ZipFile(io.BytesIO(first.content))
            # Only the person's own: the other member's file and account are not in it.
            assert str(other.file_id) not in " ".join(archive.namelist())
            assert other.account.email not in archive.read("auth.json").decode()
            assert other.account.email not in archive.read("tenant.json").decode()
            assert json.loads(archive.read("manifest.json"))[0]["name"] == "notes.txt"

            forged = await client.get(re.sub(r"sig=[^&]+", "sig=" + "A" * 43, path))
            longer = await client.get(re.sub(r"exp=\d+", "exp=99999999999", path))
            other_export = await client.get(path.replace(export_id, "0" * 24))
            assert (forged.status_code, longer.status_code, other_export.status_code) == (
                403,
                403,
                403,
            )
            assert forged.headers["content-type"].startswith("application/problem+json")

            handle = temporal.get_workflow_handle(
                started.json()["workflow_id"], result_type=ExportResult
            )
            result = await handle.result()
            expired = await client.get(path)
        await record_history(handle, "gdpr_export")
    assert result.files == 1 and result.counts["file"]["files"] == 1
    assert expired.status_code == 410
    assert not await stack.files.blobs.exists(export_archive_key(export_id))
    assert not await stack.files.blobs.exists(export_part_key(export_id, "auth"))


def failing_archive() -> Any:
    async def build(input: Any) -> Any:
        raise ApplicationError("injected failure", type="InjectedFailure", non_retryable=True)

    build.__annotations__ = {
        "input": BUILD_EXPORT_ARCHIVE.input_type,
        "return": BUILD_EXPORT_ARCHIVE.output_type,
    }
    return BUILD_EXPORT_ARCHIVE.implement(build)


async def test_a_failed_build_leaves_no_partial_export(
    temporal: Client, compliance_stack: Any, auth_runtime: AuthRuntime
) -> None:
    owner = await create_user(auth_runtime)
    replace = {BUILD_EXPORT_ARCHIVE.name: failing_archive()}
    async with compliance_stack(replace=replace) as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        person = await member_with_data(auth_runtime, stack, tenant_id)
        async with stack.api.client(person.caller) as client:
            started = await client.post("/compliance/exports")
        workflow_id = started.json()["workflow_id"]
        with pytest.raises(WorkflowFailureError):
            await temporal.get_workflow_handle(workflow_id).result()
        progress = await temporal.get_workflow_handle(workflow_id).query("progress")
    export_id = workflow_id.removeprefix("gdpr-export-")
    for service in ("auth", "user", "tenant", "file"):
        assert not await stack.files.blobs.exists(export_part_key(export_id, service)), service
    assert not await stack.files.blobs.exists(export_archive_key(export_id))
    assert progress["state"] == "compensating"
