"""Shares never cross tenants: a member of tenant B (every file permission) cannot list, make or
revoke shares of tenant A's file, nor revoke A's share through a file of B's; a share of A (even
tenant-wide, even with B's member named) opens nothing to a token of B; a link names its tenant
inside its HMAC, so moving it to another tenant fails, and one signed for B finds no share."""

from __future__ import annotations

import uuid

from services.file.sharing.links import LinkRef, LinkSigner
from tests.file.sharing.share_api import READ_WRITE_SHARE, ShareStack


async def test_shares_and_links_of_one_tenant_are_nothing_in_another(sharing: ShareStack) -> None:
    a = await sharing.seed({"both": "member"})
    b = await sharing.seed({})
    # "both" is also a member of B: the same user id, with a token for B.
    owner_a = sharing.token(a.tenant_id, a.user("owner"), "owner")
    owner_b = sharing.token(b.tenant_id, b.user("owner"), "owner", READ_WRITE_SHARE)
    both_in_b = sharing.token(b.tenant_id, a.user("both"), "member", READ_WRITE_SHARE)
    async with sharing.client(owner_a) as client:
        file_a = await sharing.ready_file(client, "a.txt", b"tenant A\n")
        tenant_share, run = await sharing.share(client, file_a, kind="tenant", permission="editor")
        await sharing.result(run["workflow_id"])
        member_share, run = await sharing.share(
            client, file_a, kind="member", grantee=str(a.user("both")), permission="editor"
        )
        await sharing.result(run["workflow_id"])
        link_share, run = await sharing.share(client, file_a, kind="link")
        await sharing.result(run["workflow_id"])
        before = (await client.get(f"/files/{file_a}/shares")).json()["shares"]
    async with sharing.client(owner_b) as client:
        file_b = await sharing.ready_file(client, "b.txt", b"tenant B\n")
        answers = {
            "list": await client.get(f"/files/{file_a}/shares"),
            "make": await client.post(f"/files/{file_a}/shares", json={"kind": "link"}),
            "revoke": await client.delete(f"/files/{file_a}/shares/{link_share}"),
            "revoke through B's file": await client.delete(f"/files/{file_b}/shares/{link_share}"),
        }
    async with sharing.client(both_in_b) as client:
        answers["read by a grantee signed in to B"] = await client.get(f"/files/{file_a}")
        answers["download by a grantee signed in to B"] = await client.get(
            f"/files/{file_a}/content"
        )
    assert {k: v.status_code for k, v in answers.items()} == dict.fromkeys(answers, 404)
    link = next(s["url"] for s in before if s["id"] == link_share)
    token = link.rsplit("/", 1)[1]
    signer = LinkSigner.for_settings(sharing.resources.settings)
    assert signer.parse(token) == LinkRef(a.tenant_id, uuid.UUID(link_share))
    for_b = signer.path(LinkRef(b.tenant_id, uuid.UUID(link_share)))
    async with sharing.client(None) as anonymous:
        assert (await anonymous.get(f"{link}/content")).content == b"tenant A\n"
        assert (await anonymous.get(f"{for_b}/content")).status_code == 404
    async with sharing.client(owner_a) as client:
        after = (await client.get(f"/files/{file_a}/shares")).json()["shares"]
    assert after == before
    assert {s["id"] for s in after} == {tenant_share, member_share, link_share}
    assert all(s["status"] == "active" for s in after)
