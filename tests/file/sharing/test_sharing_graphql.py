"""Sharing through the real gateway and services (the stack's processes): ``shareFile`` by link
answers its ``file_sharing`` run, ``shares`` lists the link, anyone holding it downloads the
file, ``revokeShare`` ends it at once; a member share reaches the member, who downloads the
file; hostile input is ``BAD_USER_INPUT``; another tenant's file is ``NOT_FOUND`` in all three."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import ServiceName
from storage.db import transaction
from storage.tenants.models import Membership
from tests.file.graphql.file_graphql import DOWNLOAD_URL, data_of, settled, upload
from tests.graphql_client import gql
from tests.support import Stack
from tests.tenant.graphql.tenant_graphql import code_of
from tests.user.graphql.user_graphql import seed_team, token_of

SHARE = """mutation($input: ShareFileInput!) {
  shareFile(input: $input) { id type status }
}"""
SHARES = """query($fileId: ID!) {
  shares(fileId: $fileId) {
    id kind grantee permission status notifyStatus passwordProtected expiresAt url
  }
}"""
#: The stack's processes start within this test when it runs first (slow on a loaded machine).
pytestmark = pytest.mark.timeout(400)
REVOKE = "mutation($fileId: ID!, $shareId: ID!) { revokeShare(fileId: $fileId, shareId: $shareId) }"


async def _shares_once_mailed(
    stack: Stack, token: str, file_id: str, count: int
) -> list[dict[str, Any]]:
    """The file's ``count`` shares once each is made and mailed (``shareFile`` answers when its
    run has started: the share row is the run's first step)."""
    for _ in range(300):
        shares = data_of(
            await gql(stack.graphql, SHARES, {"fileId": file_id}, token=token), "shares"
        )
        if len(shares) >= count and all(s["notifyStatus"] != "pending" for s in shares):
            return shares  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError("the share was never made")


async def test_share_by_link_and_by_member_then_revoke(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, user_resources: Resources
) -> None:
    team = await seed_team(
        auth_runtime, tenant_resources, user_resources, [("Gus Owner", "owner"), ("Ida", "viewer")]
    )
    ida = team.members[1][0]
    async with transaction(tenant_resources.database, team.tenant_id) as db:
        for user, _, _ in team.members:
            await db.execute(
                update(Membership)
                .where(Membership.tenant_id == team.tenant_id, Membership.user_id == user.id)
                .values(email=user.email)
            )
    owner = await token_of(stack.graphql, team.owner, team.tenant_id)
    file_id = (await upload(stack, owner, "deck.txt", b"the deck\n"))["file"]["id"]
    assert (await settled(stack, owner, file_id))["status"] == "ready"
    run = data_of(
        await gql(
            stack.graphql,
            SHARE,
            {"input": {"fileId": file_id, "kind": "LINK", "expiresInSeconds": 3600}},
            token=owner,
        ),
        "shareFile",
    )
    assert run["type"] == "file_sharing" and run["id"].startswith("file-sharing-")
    [link] = await _shares_once_mailed(stack, owner, file_id, 1)
    assert link["kind"] == "link" and link["status"] == "active" and link["url"]
    async with httpx.AsyncClient(timeout=30) as anonymous:
        got = await anonymous.get(stack.url(ServiceName.file, link["url"] + "/content"))
    assert got.status_code == 200 and got.content == b"the deck\n"

    member = {"fileId": file_id, "kind": "MEMBER", "grantee": str(ida.id)}
    data_of(await gql(stack.graphql, SHARE, {"input": member}, token=owner), "shareFile")
    shares = await _shares_once_mailed(stack, owner, file_id, 2)
    assert {(s["kind"], s["notifyStatus"]) for s in shares} == {
        ("link", "none"),
        ("member", "sent"),
    }
    reader = await token_of(stack.graphql, ida, team.tenant_id)
    url = data_of(await gql(stack.graphql, DOWNLOAD_URL, {"id": file_id}, token=reader), "file")
    async with httpx.AsyncClient(timeout=30) as client:
        downloaded = await client.get(stack.url(ServiceName.file, url["downloadUrl"]))
    assert downloaded.content == b"the deck\n"

    revoked = await gql(
        stack.graphql, REVOKE, {"fileId": file_id, "shareId": link["id"]}, token=owner
    )
    assert data_of(revoked, "revokeShare") is True
    async with httpx.AsyncClient(timeout=30) as anonymous:
        gone = await anonymous.get(stack.url(ServiceName.file, link["url"] + "/content"))
    assert gone.status_code == 410

    bad = [
        {"fileId": file_id, "kind": "MEMBER", "grantee": "x" * 1_000_000},
        {"fileId": file_id, "kind": "MEMBER", "grantee": "not-a-uuid"},
        {"fileId": file_id, "kind": "LINK", "expiresInSeconds": 0},
        {"fileId": file_id, "kind": "LINK", "password": "x" * 1_000_000},
        {"fileId": file_id, "kind": "LINK", "recipients": ["nobody"]},
        {"fileId": file_id, "kind": "TENANT", "password": "secret12"},
        {"fileId": "not-a-uuid", "kind": "LINK"},
    ]
    for input in bad:
        assert code_of(await gql(stack.graphql, SHARE, {"input": input}, token=owner)) == (
            "BAD_USER_INPUT"
        ), input
    assert (
        code_of(
            await gql(
                stack.graphql, REVOKE, {"fileId": file_id, "shareId": "x" * 5000}, token=owner
            )
        )
        == "BAD_USER_INPUT"
    )
    after = await _shares_once_mailed(stack, owner, file_id, 2)
    assert len(after) == 2  # nothing written by the refused ones

    other = await seed_team(auth_runtime, tenant_resources, user_resources, [("Jo Other", "owner")])
    stranger = await token_of(stack.graphql, other.owner, other.tenant_id)
    answers = [
        await gql(stack.graphql, SHARES, {"fileId": file_id}, token=stranger),
        await gql(
            stack.graphql, SHARE, {"input": {"fileId": file_id, "kind": "LINK"}}, token=stranger
        ),
        await gql(
            stack.graphql, REVOKE, {"fileId": file_id, "shareId": shares[1]["id"]}, token=stranger
        ),
        await gql(
            stack.graphql, REVOKE, {"fileId": file_id, "shareId": str(uuid.uuid4())}, token=owner
        ),
    ]
    assert [code_of(a) for a in answers] == ["NOT_FOUND"] * 4, answers
    final = await _shares_once_mailed(stack, owner, file_id, 2)
    assert [s["status"] for s in final] == ["revoked", "active"]
