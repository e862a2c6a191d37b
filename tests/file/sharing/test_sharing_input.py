"""Hostile input to the share routes and share links: megabyte strings, invalid values, deep
nesting, wrong types, tampered, forged, huge and garbage link tokens. Every answer is a 4xx
problem+json, never a 500, and nothing is written (no share, no run)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx

from services.file.sharing.links import LinkRef, LinkSigner
from tests.file.sharing.share_api import ShareStack

MEGABYTE = "x" * 1_000_000


#: 2000 objects deep, as raw JSON (the client's encoder would recurse too far).
DEEP = b'{"kind": ' * 2000 + b'"link"' + b"}" * 2000
JSON = {"content-type": "application/json"}


BAD_SHARES: list[Any] = [
    {"kind": "member", "grantee": MEGABYTE},
    {"kind": "role", "grantee": MEGABYTE},
    {"kind": "link", "password": MEGABYTE},
    {"kind": MEGABYTE},
    {"kind": "everyone"},
    {"kind": "member"},
    {"kind": "member", "grantee": "not-a-uuid"},
    {"kind": "role", "grantee": "ad min;--"},
    {"kind": "role"},
    {"kind": "tenant", "grantee": str(uuid.uuid4())},
    {"kind": "link", "grantee": "x"},
    {"kind": "member", "grantee": str(uuid.uuid4()), "password": "secret12"},
    {"kind": "tenant", "recipients": ["a@b.example"]},
    {"kind": "link", "permission": "owner"},
    {"kind": "link", "permission": MEGABYTE},
    {"kind": "link", "expires_in_seconds": 0},
    {"kind": "link", "expires_in_seconds": -5},
    {"kind": "link", "expires_in_seconds": 10**30},
    {"kind": "link", "expires_in_seconds": 1.5},
    {"kind": "link", "expires_in_seconds": "soon"},
    {"kind": "link", "password": "abc"},
    {"kind": "link", "password": "pass\x00word"[:3]},
    {"kind": "link", "recipients": ["not-an-address"]},
    {"kind": "link", "recipients": [MEGABYTE + "@x.example"]},
    {"kind": "link", "recipients": [f"p{i}@x.example" for i in range(51)]},
    {"kind": "link", "recipients": "a@b.example"},
    {"kind": "link", "unexpected": True},
    [{"kind": "link"}],
    "link",
    None,
]


def _problem(answer: httpx.Response, *statuses: int) -> None:
    assert answer.status_code in statuses, (answer.status_code, answer.text[:300])
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.headers


async def test_bad_shares_are_refused_and_write_nothing(sharing: ShareStack) -> None:
    people = await sharing.seed({})
    owner = sharing.token(people.tenant_id, people.user("owner"), "owner")
    async with sharing.client(owner) as client:
        file_id = await sharing.ready_file(client)
        for body in BAD_SHARES:
            _problem(await client.post(f"/files/{file_id}/shares", json=body), 422)
        _problem(
            await client.post(
                f"/files/{file_id}/shares",
                content=b'{"kind": "link", "password": "\xff\xfe"}',
                headers={"content-type": "application/json"},
            ),
            400,
        )
        _problem(await client.post(f"/files/{file_id}/shares", content=b"{not json"), 400, 422)
        _problem(
            await client.post(f"/files/{file_id}/shares", content=DEEP, headers=JSON), 400, 422
        )
        _problem(await client.post("/files/not-a-uuid/shares", json={"kind": "link"}), 422)
        _problem(await client.post(f"/files/{uuid.uuid4()}/shares", json={"kind": "link"}), 404)
        _problem(await client.delete(f"/files/{file_id}/shares/{uuid.uuid4()}"), 404)
        _problem(await client.delete(f"/files/{file_id}/shares/{MEGABYTE[:5000]}"), 422)
        listed = (await client.get(f"/files/{file_id}/shares")).json()["shares"]
    assert listed == []


async def test_bad_link_tokens_and_passwords_are_refused(sharing: ShareStack) -> None:
    people = await sharing.seed({})
    owner = sharing.token(people.tenant_id, people.user("owner"), "owner")
    async with sharing.client(owner) as client:
        file_id = await sharing.ready_file(client, "locked.txt", b"locked\n")
        share_id, started = await sharing.share(
            client, file_id, kind="link", password="open-sesame"
        )
        await sharing.result(started["workflow_id"])
        [share] = (await client.get(f"/files/{file_id}/shares")).json()["shares"]
    link: str = share["url"]
    token = link.rsplit("/", 1)[1]
    body, kid, mac = token.split("~")
    other_tenant = base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.UUID(share_id).bytes)
    forged = LinkSigner.for_settings(sharing.resources.settings).token(
        LinkRef(uuid.uuid4(), uuid.UUID(share_id))
    )
    tampered = [
        "garbage",
        "a~b~c",
        "~~",
        f"{body}~{kid}~{mac[:-2]}AA",
        f"{body[:-2]}AA~{kid}~{mac}",
        f"{other_tenant.decode().rstrip('=')}~{kid}~{mac}",
        f"{body}~no-such-kid~{mac}",
        f"{body}~{kid}~{mac}~extra",
        MEGABYTE[:20_000],
        f"{body}~{kid}~{mac}%00",
        "%ff%fe~x~y",
    ]
    async with sharing.client(None) as anonymous:
        for bad in tampered:
            for path in (f"/shares/links/{bad}", f"/shares/links/{bad}/content"):
                _problem(await anonymous.get(path), 401, 404)
        # Signed with the platform's key for another tenant: that tenant has no such share.
        _problem(await anonymous.get(f"/shares/links/{forged}/content"), 404)
        _problem(await anonymous.get(f"{link}/content"), 401)
        _problem(await anonymous.get(f"{link}/content", headers={"x-share-password": "no"}), 403)
        _problem(
            await anonymous.get(f"{link}/content", headers={"x-share-password": MEGABYTE[:5000]}),
            422,
        )
        _problem(await anonymous.post(f"{link}/content", json={"password": MEGABYTE}), 422)
        _problem(await anonymous.post(f"{link}/content", json={"password": ["x"]}), 422)
        _problem(await anonymous.post(f"{link}/content", content=DEEP, headers=JSON), 400, 422)
        _problem(await anonymous.patch(f"{link}/name", json={"name": MEGABYTE}), 422)
        _problem(
            await anonymous.patch(f"{link}/name", json={"name": "../x", "password": "open-sesame"}),
            403,  # a download-only link, whatever the name
        )
        good = await anonymous.post(f"{link}/content", json={"password": "open-sesame"})
    assert good.status_code == 200 and good.content == b"locked\n"
