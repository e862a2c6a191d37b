"""The done-when of issue 11's ``compliance``: a person exports their data and downloads the
archive, then erases their account and receives the receipt; afterwards a search finds them in
no schema, no blob store, no Redis key and no workflow search attribute (the erasure check).
With ``ADX_RECORD_HISTORIES=1`` the runs become the replay histories
(``tests/histories/gdpr_export.json``, ``gdpr_erasure.json``)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.settings import Settings
from tests.auth.mail_flows import plain_text, record_history, wait_for_outbox
from tests.auth.users import create_user
from tests.workflow.compliance.people import (
    FILE_BYTES,
    blobs_naming,
    member_with_data,
    provisioned,
    redis_keys_naming,
    rows_naming,
    runs_of,
)
from tests.workflow.runs.runs_api import eventually
from workflows.common.compliance import export_archive_key, export_part_key
from workflows.compliance.contracts import ErasureResult

pytestmark = pytest.mark.timeout(180)
LINK = re.compile(r"(/compliance/exports/[a-f0-9]{24}/archive\?\S+)")


async def test_export_download_then_erasure_leaves_no_trace(
    temporal: Client, compliance_stack: Any, auth_runtime: AuthRuntime, settings: Settings
) -> None:
    owner = await create_user(auth_runtime)
    async with compliance_stack(grace_seconds=1) as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        person = await member_with_data(auth_runtime, stack, tenant_id)
        uid, email = str(person.id), person.account.email
        await stack.auth.redis.set(stack.auth.redis_keys("test", "cache", uid), "1")

        # Export: started by the person, the link mailed, the archive downloaded.
        async with stack.api.client(person.caller) as client:
            started = await client.post("/compliance/exports")
            assert started.status_code == 202, started.text
            export_run = started.json()["workflow_id"]
            mails = await wait_for_outbox(stack.api.resources.settings, email)
            link = LINK.search(plain_text(mails[-1]))
            assert link, "the mail carries the download link"
            download = await client.get(link.group(1), headers={"authorization": ""})
        assert download.status_code == 200, download.text
        archive = zipfile.ZipFile(io.BytesIO(download.content))
        names = set(archive.namelist())
        assert {"auth.json", "user.json", "tenant.json", "file.json", "manifest.json"} <= names
        account = json.loads(archive.read("auth.json"))["account"][0]
        assert (account["id"], account["email"]) == (uid, email)
        assert "password_hash" not in account
        profile = json.loads(archive.read("user.json"))["profile"][0]
        assert profile["display_name"] == "Ada Example"
        membership = json.loads(archive.read("tenant.json"))["tenants"][str(tenant_id)]
        assert membership["membership"][0]["role"] == "member"
        path = f"files/{tenant_id}/{person.file_id}/notes.txt"
        assert archive.read(path) == FILE_BYTES
        # The link's token is in no history.
        history = (await temporal.get_workflow_handle(export_run).fetch_history()).to_json()
        assert "sig=" not in history and link.group(1).split("sig=")[1] not in history

        # The check below finds them while they exist (so its silence afterwards means it).
        before = await rows_naming(settings.database_url, [uid, email])
        assert {
            "auth.credentials.id",
            "users.profiles.email",
            "users.scim_users.user_id",
            "files.files.owner_id",
        } <= set(before), before
        assert blobs_naming(settings.blob_root(), [str(person.file_id)]) != []
        assert await runs_of(temporal, person.id) != []

        # Erasure: requested by the person, a one-second grace period, the receipt mailed.
        async with stack.api.client(person.caller) as client:
            requested = await client.post("/compliance/erasures", json={"confirm": True})
            assert requested.status_code == 202, requested.text
        erasure_id = requested.json()["workflow_id"]
        assert uid not in erasure_id
        handle = temporal.get_workflow_handle(erasure_id, result_type=ErasureResult)
        result = await handle.result()
        assert result.outcome == "erased" and result.receipt is not None
        receipt = json.loads(result.receipt.receipt)
        deleted = {p["service"]: p["deleted"] for p in receipt["parts"]}
        assert deleted["auth"]["credentials"] == 1 and deleted["file"]["files"] == 1
        assert deleted["tenant"]["memberships"] == 1 and deleted["user"]["profiles"] == 1
        assert deleted["workflow"]["runs"] >= 1 and deleted["redis"]["keys"] >= 1
        assert uid not in result.receipt.receipt and email not in result.receipt.receipt
        receipt_mail = await wait_for_outbox(stack.api.resources.settings, email, count=2)
        assert result.receipt.signature in plain_text(receipt_mail[-1])
        async with stack.api.client(person.caller) as client:
            check = await client.post(
                "/compliance/receipts/verify",
                json={
                    "receipt": result.receipt.receipt,
                    "key_id": result.receipt.key_id,
                    "signature": result.receipt.signature,
                },
            )
            forged = await client.post(
                "/compliance/receipts/verify",
                json={
                    "receipt": result.receipt.receipt.replace('"files":1', '"files":0'),
                    "key_id": result.receipt.key_id,
                    "signature": result.receipt.signature,
                },
            )
        assert check.json() == {"valid": True} and forged.json() == {"valid": False}
        await record_history(temporal.get_workflow_handle(erasure_id), "gdpr_erasure")
        # The export run was deleted by the erasure: its history is recorded by the export
        # tests (tests/workflow/compliance/test_export.py).
        described = await handle.describe()
        assert described.search_attributes.get("AdxUserId") in (None, [])

    # The erasure check.
    found = await rows_naming(settings.database_url, [uid, email])
    assert found == [], f"the person is still in {found}"
    assert blobs_naming(settings.blob_root(), [uid, str(person.file_id)]) == []
    assert not await stack.files.blobs.exists(person.blob_key)
    export_id = export_run.removeprefix("gdpr-export-")
    assert not await stack.files.blobs.exists(export_archive_key(export_id))
    assert not await stack.files.blobs.exists(export_part_key(export_id, "user"))
    assert await redis_keys_naming(stack.auth, uid) == []

    async def no_runs() -> None:
        assert await runs_of(temporal, person.id) == []

    await eventually(no_runs)
