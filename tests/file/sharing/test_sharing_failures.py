"""What a failing ``file_sharing`` does, on the real stack: a mail that cannot be sent leaves the
share working and says so (``notify_status`` ``failed`` with the reason, in ``shares`` too); a
run cancelled while it waits for the expiry compensates by revoking the share (its link then
ends). With ``ADX_RECORD_HISTORIES=1`` the runs are ``tests/histories/file_sharing.*.json``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from tests.auth.mail_flows import record_history
from tests.file.sharing.share_api import ShareStack, share_stack
from workflows.file.file_sharing import FileSharingWorkflow
from workflows.file.sharing_contracts import MAIL_SHARE, MailShareInput, MailShareOutput


@MAIL_SHARE.implement
async def mail_server_down(input: MailShareInput) -> MailShareOutput:
    raise ApplicationError("smtp refused the recipient", type="MailFailed", non_retryable=True)


@pytest.fixture
async def no_mail(
    settings: Settings,
    file_resources: Resources,
    tenant_resources: Resources,
    auth_runtime: AuthRuntime,
) -> AsyncIterator[ShareStack]:
    replace = {"file.mail_share": mail_server_down}
    async with share_stack(
        settings, file_resources, tenant_resources, auth_runtime, replace
    ) as stack:
        yield stack


async def test_a_mail_that_fails_leaves_the_share_working_and_says_so(no_mail: ShareStack) -> None:
    people = await no_mail.seed({"fay": "viewer"})
    owner = no_mail.token(people.tenant_id, people.user("owner"), "owner")
    fay = no_mail.token(people.tenant_id, people.user("fay"), "viewer", ("users.read",))
    async with no_mail.client(owner) as client:
        file_id = await no_mail.ready_file(client)
        _, started = await no_mail.share(
            client, file_id, kind="member", grantee=str(people.user("fay")), permission="editor"
        )
        result = await no_mail.result(started["workflow_id"])
        [listed] = (await client.get(f"/files/{file_id}/shares")).json()["shares"]
    await record_history(no_mail.handle(started["workflow_id"]), "file_sharing.mail_failed")
    assert (result.status, result.notify_status, result.mailed) == ("active", "failed", 0)
    assert listed["status"] == "active" and listed["notify_status"] == "failed"
    assert "smtp refused" in listed["notify_detail"]
    async with no_mail.client(fay) as client:
        assert (await client.get(f"/files/{file_id}/content")).status_code == 200


async def test_a_cancelled_run_revokes_its_share(sharing: ShareStack) -> None:
    people = await sharing.seed({})
    owner = sharing.token(people.tenant_id, people.user("owner"), "owner")
    async with sharing.client(owner) as client:
        file_id = await sharing.ready_file(client)
        share_id, started = await sharing.share(
            client, file_id, kind="link", expires_in_seconds=3600
        )
        await sharing.wait_for(started["workflow_id"], "waiting")
        [share] = (await client.get(f"/files/{file_id}/shares")).json()["shares"]
    async with sharing.client(None) as anonymous:
        assert (await anonymous.get(f"{share['url']}/content")).status_code == 200
    handle = sharing.handle(started["workflow_id"])
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    await record_history(handle, "file_sharing.compensated")
    row = await sharing.share_row(people.tenant_id, share_id)
    assert row is not None and row.status == "revoked"
    progress = await handle.query(FileSharingWorkflow.progress)
    assert progress.state == "failed" and progress.label == "share revoked"
    async with sharing.client(None) as anonymous:
        ended = await anonymous.get(f"{share['url']}/content")
    assert ended.status_code == 410
