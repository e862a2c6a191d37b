"""Sharing on the real stack (file service and worker, the tenant service's worker, PostgreSQL,
Redis, Temporal): a link (password, mail, download, revocation at once), a member share (the
recipient reads and downloads without ``files.read``, a viewer cannot rename), a role share as
editor, an expiry run out by the run's timer, a grantee who does not exist. With
``ADX_RECORD_HISTORIES=1`` the runs are the replay histories ``tests/histories/file_sharing*.json``."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest
from temporalio.client import WorkflowFailureError

from tests.auth.mail_flows import record_history
from tests.file.sharing.share_api import ShareStack
from workflows.file.file_sharing import FileSharingWorkflow

NO_FILES = ("users.read",)


def _link_in(text: str) -> str:
    match = re.search(r"(/shares/links/[A-Za-z0-9_~.-]+)", text)
    assert match is not None, text
    return match.group(1)


async def test_a_link_with_a_password_is_mailed_downloaded_and_revoked_at_once(
    sharing: ShareStack,
) -> None:
    people = await sharing.seed({})
    owner = sharing.token(people.tenant_id, people.user("owner"), "owner")
    outsider = "friend@partner.example"
    async with sharing.client(owner) as client:
        file_id = await sharing.ready_file(client, "q4.txt", b"q4 numbers\n")
        share_id, started = await sharing.share(
            client, file_id, kind="link", password="s3cret-pass", recipients=[outsider]
        )
        result = await sharing.result(started["workflow_id"])
        listed = (await client.get(f"/files/{file_id}/shares")).json()["shares"]
    await record_history(sharing.handle(started["workflow_id"]), "file_sharing")
    assert (result.status, result.notify_status, result.mailed) == ("active", "sent", 1)
    [share] = listed
    assert share["id"] == share_id and share["kind"] == "link" and share["status"] == "active"
    assert share["password_protected"] and share["notify_status"] == "sent"
    link = share["url"]
    mail = sharing.mail_to(outsider)
    assert _link_in(mail) == link and "s3cret-pass" not in mail and "password" in mail
    async with sharing.client(None) as anonymous:
        asked = await anonymous.get(f"{link}/content")
        wrong = await anonymous.get(f"{link}/content", headers={"x-share-password": "nope"})
        opened = await anonymous.get(link, headers={"x-share-password": "s3cret-pass"})
        got = await anonymous.get(f"{link}/content", headers={"x-share-password": "s3cret-pass"})
        posted = await anonymous.post(f"{link}/content", json={"password": "s3cret-pass"})
        ranged = await anonymous.get(
            f"{link}/content", headers={"x-share-password": "s3cret-pass", "range": "bytes=0-1"}
        )
        renamed = await anonymous.patch(
            f"{link}/name", json={"name": "x.txt", "password": "s3cret-pass"}
        )
    assert asked.status_code == 401 and asked.json()["code"] == "PasswordRequired"
    assert wrong.status_code == 403 and wrong.json()["code"] == "WrongPassword"
    assert opened.status_code == 200 and opened.json()["name"] == "q4.txt"
    assert got.status_code == 200 and got.content == b"q4 numbers\n"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert posted.status_code == 200 and posted.content == b"q4 numbers\n"
    assert ranged.status_code == 206 and ranged.content == b"q4"
    assert renamed.status_code == 403  # a download-only link
    async with sharing.client(owner) as client:
        revoked = await client.delete(f"/files/{file_id}/shares/{share_id}")
        again = await client.delete(f"/files/{file_id}/shares/{share_id}")
        after = (await client.get(f"/files/{file_id}/shares")).json()["shares"]
        name = (await client.get(f"/files/{file_id}")).json()["name"]
    assert revoked.status_code == 204 and again.status_code == 204
    async with sharing.client(None) as anonymous:
        gone = await anonymous.get(f"{link}/content", headers={"x-share-password": "s3cret-pass"})
    assert gone.status_code == 410 and gone.json()["code"] == "ShareEnded"
    assert after[0]["status"] == "revoked" and after[0]["url"] is None
    assert name == "q4.txt"


async def test_a_member_share_lets_the_recipient_read_and_download_and_ends_at_once(
    sharing: ShareStack,
) -> None:
    people = await sharing.seed({"ana": "member", "bo": "viewer"})
    owner = sharing.token(people.tenant_id, people.user("owner"), "owner")
    # A member whose token carries no file permission: only a share lets them in.
    ana = sharing.token(people.tenant_id, people.user("ana"), "member", NO_FILES)
    async with sharing.client(owner) as client:
        file_id = await sharing.ready_file(client, "brief.txt", b"for ana only\n")
    async with sharing.client(ana) as client:
        before = await client.get(f"/files/{file_id}")
    assert before.status_code == 403
    async with sharing.client(owner) as client:
        share_id, started = await sharing.share(
            client, file_id, kind="member", grantee=str(people.user("ana"))
        )
        result = await sharing.result(started["workflow_id"])
    assert (result.status, result.notify_status, result.mailed) == ("active", "sent", 1)
    assert f"/files/{file_id}" in sharing.mail_to(people.emails["ana"])
    async with sharing.client(ana) as client:
        meta = await client.get(f"/files/{file_id}")
        content = await client.get(f"/files/{file_id}/content")
        signed = await client.post(f"/files/{file_id}/signed-url")
        rename = await client.patch(f"/files/{file_id}/name", json={"name": "mine.txt"})
        delete = await client.delete(f"/files/{file_id}")
        reshare = await client.post(f"/files/{file_id}/shares", json={"kind": "tenant"})
    assert meta.status_code == 200 and meta.json()["name"] == "brief.txt"
    assert content.status_code == 200 and content.content == b"for ana only\n"
    assert signed.status_code == 200
    assert rename.status_code == 403 and delete.status_code == 403  # a viewer share
    assert reshare.status_code == 403
    async with sharing.client(owner) as client:
        assert (await client.delete(f"/files/{file_id}/shares/{share_id}")).status_code == 204
    async with sharing.client(ana) as client:
        after = await client.get(f"/files/{file_id}/content")
    assert after.status_code == 403
    row = await sharing.share_row(people.tenant_id, share_id)
    assert row is not None and row.status == "revoked" and row.revoked_by == people.user("owner")


async def test_a_role_share_as_editor_lets_its_holders_rename_but_not_delete(
    sharing: ShareStack,
) -> None:
    people = await sharing.seed({"cy": "viewer", "di": "viewer", "ed": "member"})
    owner = sharing.token(people.tenant_id, people.user("owner"), "owner")
    cy = sharing.token(people.tenant_id, people.user("cy"), "viewer")
    ed = sharing.token(people.tenant_id, people.user("ed"), "member", NO_FILES)
    async with sharing.client(owner) as client:
        file_id = await sharing.ready_file(client)
        _, started = await sharing.share(
            client, file_id, kind="role", grantee="viewer", permission="editor"
        )
        result = await sharing.result(started["workflow_id"])
    assert result.mailed == 2  # cy and di, not ed, not the owner
    assert sharing.mail_to(people.emails["di"])
    async with sharing.client(cy) as client:
        renamed = await client.patch(f"/files/{file_id}/name", json={"name": "edited.txt"})
        deleted = await client.delete(f"/files/{file_id}")
        listed = await client.get(f"/files/{file_id}/shares")
    async with sharing.client(ed) as client:
        refused = await client.get(f"/files/{file_id}")
    assert renamed.status_code == 200 and renamed.json()["name"] == "edited.txt"
    assert deleted.status_code == 403
    assert listed.status_code == 200  # an editor by share manages the shares
    assert refused.status_code == 403


async def test_an_expiring_link_ends_by_the_runs_timer(sharing: ShareStack) -> None:
    people = await sharing.seed({})
    owner = sharing.token(people.tenant_id, people.user("owner"), "owner")
    async with sharing.client(owner) as client:
        file_id = await sharing.ready_file(client)
        share_id, started = await sharing.share(
            client, file_id, kind="link", permission="editor", expires_in_seconds=3
        )
        link = None
        for _ in range(100):
            shares = (await client.get(f"/files/{file_id}/shares")).json()["shares"]
            if shares and shares[0]["url"]:
                link = shares[0]["url"]
                break
            await asyncio.sleep(0.05)
    assert link is not None
    async with sharing.client(None) as anonymous:
        renamed = await anonymous.patch(f"{link}/name", json={"name": "by-link.txt"})
    result = await sharing.result(started["workflow_id"])
    await record_history(sharing.handle(started["workflow_id"]), "file_sharing.expired")
    assert result.status == "expired" and result.notify_status == "none"
    assert renamed.status_code == 200 and renamed.json()["name"] == "by-link.txt"
    async with sharing.client(None) as anonymous:
        ended = await anonymous.get(f"{link}/content")
    assert ended.status_code == 410 and ended.json()["code"] == "ShareEnded"
    row = await sharing.share_row(people.tenant_id, share_id)
    assert row is not None and row.status == "expired"


async def test_revoking_an_expiring_share_ends_its_run_at_once(sharing: ShareStack) -> None:
    people = await sharing.seed({})
    owner = sharing.token(people.tenant_id, people.user("owner"), "owner")
    async with sharing.client(owner) as client:
        file_id = await sharing.ready_file(client)
        share_id, started = await sharing.share(
            client, file_id, kind="tenant", expires_in_seconds=3600
        )
        handle = sharing.handle(started["workflow_id"])
        for _ in range(200):
            if (await handle.query(FileSharingWorkflow.progress)).state == "waiting":
                break
            await asyncio.sleep(0.05)
        assert (await client.delete(f"/files/{file_id}/shares/{share_id}")).status_code == 204
    result = await handle.result()
    await record_history(handle, "file_sharing.revoked")
    assert result.status == "revoked"


async def test_a_share_with_someone_outside_the_tenant_writes_nothing(
    sharing: ShareStack,
) -> None:
    people = await sharing.seed({})
    stranger = uuid.uuid4()
    owner = sharing.token(people.tenant_id, people.user("owner"), "owner")
    async with sharing.client(owner) as client:
        file_id = await sharing.ready_file(client)
        share_id, started = await sharing.share(
            client, file_id, kind="member", grantee=str(stranger)
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await sharing.result(started["workflow_id"])
        listed = (await client.get(f"/files/{file_id}/shares")).json()["shares"]
        _, role = await sharing.share(client, file_id, kind="role", grantee="no-such-role")
        with pytest.raises(WorkflowFailureError) as unknown_role:
            await sharing.result(role["workflow_id"])
    assert "not an active member" in str(failure.value.cause)
    assert "no such role" in str(unknown_role.value.cause)
    assert listed == []
    assert await sharing.share_row(people.tenant_id, share_id) is None
