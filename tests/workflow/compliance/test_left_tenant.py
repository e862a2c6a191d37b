"""Files a person still owns in a tenant they have left (no membership names it any more): the
export carries them and the erasure removes them, rows and blobs (the file service finds them
through its compliance-subject policy, migration files_0008). A request's own scope does not see
them (the policy is for the GDPR steps only)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from storage.auth.claims import ClaimsRepository
from storage.db import transaction
from storage.files.models import FileRecord
from storage.tenants.repository import MembershipRepository
from tests.auth.mail_flows import plain_text, wait_for_outbox
from tests.auth.users import create_user
from tests.workflow.compliance.people import (
    ComplianceStack,
    Person,
    member_with_data,
    provisioned,
    request_erasure,
)
from workflows.compliance.contracts import ErasureResult, ExportResult

pytestmark = pytest.mark.timeout(180)
LINK = re.compile(r"(/compliance/exports/([a-f0-9]{24})/archive\?\S+)")


async def _left(stack: ComplianceStack, person: Person) -> None:
    """The person leaves the tenant; the file they uploaded there stays theirs."""
    tenant_id = person.tenant_id
    async with transaction(stack.tenants.database, tenant_id) as db:
        members = MembershipRepository(db, tenant_id)
        membership = await members.of_user(person.id)
        assert membership is not None
        await members.remove(membership)
    async with transaction(stack.auth.database) as db:
        await ClaimsRepository(db).remove(person.id, tenant_id)


async def _file_row(stack: ComplianceStack, person: Person) -> FileRecord | None:
    async with transaction(stack.files.database, person.tenant_id) as db:
        return await db.get(FileRecord, person.file_id)


async def test_files_in_a_tenant_they_left_are_exported_then_erased(
    temporal: Client, compliance_stack: Any, auth_runtime: AuthRuntime
) -> None:
    owner = await create_user(auth_runtime)
    async with compliance_stack(grace_seconds=1) as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        person = await member_with_data(auth_runtime, stack, tenant_id)
        await _left(stack, person)
        # Scoped to the person alone (as a request of theirs without the tenant would be), the
        # ordinary policies show none of the tenant's files.
        async with transaction(stack.files.database, user_id=person.id) as db:
            assert await db.get(FileRecord, person.file_id) is None

        async with stack.api.client(person.caller) as client:
            started = await client.post("/compliance/exports")
            assert started.status_code == 202, started.text
            mail = (await wait_for_outbox(stack.api.resources.settings, person.account.email))[-1]
            link = LINK.search(plain_text(mail))
            assert link, plain_text(mail)
            download = await client.get(link.group(1))
        assert download.status_code == 200, download.text
        archive = zipfile.ZipFile(io.BytesIO(download.content))
        name = f"files/{tenant_id}/{person.file_id}/notes.txt"
        assert name in archive.namelist(), archive.namelist()
        assert archive.read(name).startswith(b"the person's own notes")
        file_part = json.loads(archive.read("file.json"))
        assert [f["id"] for f in file_part["tenants"][str(tenant_id)]["files"]] == [
            str(person.file_id)
        ]
        await temporal.get_workflow_handle(
            started.json()["workflow_id"], result_type=ExportResult
        ).cancel()

        workflow_id = await request_erasure(stack, person)
        result = await temporal.get_workflow_handle(workflow_id, result_type=ErasureResult).result()
    assert result.outcome == "erased"
    assert await _file_row(stack, person) is None
    assert not await stack.files.blobs.exists(person.blob_key)
    assert result.receipt is not None
    parts = {p["service"]: p["deleted"] for p in json.loads(result.receipt.receipt)["parts"]}
    assert parts["file"]["files"] == 1 and parts["file"]["blobs"] == 1, parts
