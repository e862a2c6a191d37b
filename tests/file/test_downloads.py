"""Downloads on the real stack: streamed bytes, single ranges (206, 416), ETag and
If-None-Match (304), the headers that keep a browser from running a download, and signed URLs
(valid without a token; tampered 403; expired 410; a quarantined file never served)."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from services.file.downloads.signed_urls import SignedLink, UrlSigner
from tests.file.file_api import EICAR, FileApi

DATA = os.urandom(300_000)


async def _ready(api: FileApi, client: httpx.AsyncClient, name: str, data: bytes) -> dict[str, Any]:
    answer = await api.upload(client, name, data)
    assert answer.status_code == 202, answer.text
    done = await api.settled(client, answer.json()["file"]["id"])
    assert done["status"] == "ready", done
    return done


async def test_whole_file_with_safe_headers(file_api: FileApi) -> None:
    async with file_api.client(file_api.caller()) as client:
        done = await _ready(file_api, client, 'Bericht über Q3 "final".bin', DATA)
        answer = await client.get(f"/files/{done['id']}/content")
    assert answer.status_code == 200 and answer.content == DATA
    assert answer.headers["content-length"] == str(len(DATA))
    assert answer.headers["etag"] == f'"{done["sha256"]}.1"'
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-disposition"] == (
        'attachment; filename="Bericht _ber Q3 _final_.bin"; '
        "filename*=UTF-8''Bericht%20%C3%BCber%20Q3%20%22final%22.bin"
    )


@pytest.mark.parametrize(
    ("header", "status", "expected", "content_range"),
    [
        ("bytes=10-19", 206, DATA[10:20], "bytes 10-19/300000"),
        ("bytes=299990-", 206, DATA[299990:], "bytes 299990-299999/300000"),
        ("bytes=-5", 206, DATA[-5:], "bytes 299995-299999/300000"),
        ("bytes=299999-400000", 206, DATA[299999:], "bytes 299999-299999/300000"),
        ("bytes=0-0,5-9", 200, DATA, None),
        ("bytes=abc", 200, DATA, None),
        ("bytes=300000-", 416, b"", "bytes */300000"),
        ("bytes=-0", 416, b"", "bytes */300000"),
    ],
)
async def test_ranges(
    file_api: FileApi, header: str, status: int, expected: bytes, content_range: str | None
) -> None:
    async with file_api.client(file_api.caller()) as client:
        done = await _ready(file_api, client, "data.bin", DATA)
        answer = await client.get(f"/files/{done['id']}/content", headers={"range": header})
    assert answer.status_code == status
    if status != 416:
        assert answer.content == expected
    assert answer.headers.get("content-range") == content_range


async def test_etag_and_if_none_match(file_api: FileApi) -> None:
    async with file_api.client(file_api.caller()) as client:
        done = await _ready(file_api, client, "data.bin", DATA)
        first = await client.get(f"/files/{done['id']}/content")
        tag = first.headers["etag"]
        again = await client.get(f"/files/{done['id']}/content", headers={"if-none-match": tag})
        weak = await client.get(
            f"/files/{done['id']}/content", headers={"if-none-match": f'"x", W/{tag}'}
        )
        other = await client.get(f"/files/{done['id']}/content", headers={"if-none-match": '"x"'})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)
    assert weak.status_code == 304
    assert other.status_code == 200 and other.content == DATA


async def test_active_types_are_attachments_inert_text_inline(file_api: FileApi) -> None:
    page = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>'
    async with file_api.client(file_api.caller()) as client:
        html = await _ready(file_api, client, "cat.png", page)
        image = await _ready(file_api, client, "logo.svg", svg)
        text = await _ready(file_api, client, "notes.txt", b"plain notes\n")
        served = {
            name: await client.get(f"/files/{row['id']}/content")
            for name, row in (("html", html), ("svg", image), ("text", text))
        }
    assert served["html"].headers["content-type"].startswith("text/html")
    for name in ("html", "svg"):
        assert served[name].headers["content-disposition"].startswith("attachment;"), name
        assert "sandbox" in served[name].headers["content-security-policy"]
    assert served["text"].headers["content-disposition"].startswith("inline;")


async def test_quarantined_file_is_never_served(file_api: FileApi) -> None:
    async with file_api.client(file_api.caller()) as client:
        answer = await file_api.upload(client, "invoice.pdf", EICAR)
        file_id = answer.json()["file"]["id"]
        assert (await file_api.settled(client, file_id))["status"] == "quarantined"
        content = await client.get(f"/files/{file_id}/content")
        link = await client.post(f"/files/{file_id}/signed-url")
    assert content.status_code == 409 and content.json()["code"] == "FileNotReady"
    assert link.status_code == 409


def _tampered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    path = parts.path
    if "path" in changes:
        path = changes.pop("path")
    query.update(changes)
    return f"{path}?{urlencode(query)}"


async def test_signed_url_works_without_a_token_and_resists_tampering(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        done = await _ready(file_api, client, "data.bin", DATA)
        other = await _ready(file_api, client, "other.bin", b"another file")
        answer = await client.post(f"/files/{done['id']}/signed-url", params={"expires_in": 60})
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    query = dict(parse_qsl(urlsplit(url).query))
    async with file_api.client(None) as anonymous:
        whole = await anonymous.get(url)
        ranged = await anonymous.get(url, headers={"range": "bytes=0-9"})
        forged = {
            "signature": await anonymous.get(_tampered(url, sig=query["sig"][:-2] + "AA")),
            "expiry": await anonymous.get(_tampered(url, exp=str(int(query["exp"]) + 3600))),
            "version": await anonymous.get(_tampered(url, v="2")),
            "key id": await anonymous.get(_tampered(url, kid="other")),
            "file": await anonymous.get(
                _tampered(url, path=f"/files/signed/{caller.tenant_id}/{other['id']}")
            ),
            "tenant": await anonymous.get(
                _tampered(url, path=f"/files/signed/{uuid.uuid4()}/{done['id']}")
            ),
        }
    assert whole.status_code == 200 and whole.content == DATA
    assert ranged.status_code == 206 and ranged.content == DATA[:10]
    for what, refused in forged.items():
        assert refused.status_code == 403, (what, refused.text)
        assert refused.json()["code"] == "InvalidSignature"


async def test_expired_signed_url_is_gone(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        done = await _ready(file_api, client, "data.bin", DATA)
    signer = UrlSigner.for_settings(file_api.settings)
    link = SignedLink(caller.tenant_id, uuid.UUID(done["id"]), 1, int(time.time()) - 1)
    async with file_api.client(None) as anonymous:
        answer = await anonymous.get(signer.url(link))
    assert answer.status_code == 410 and answer.json()["code"] == "UrlExpired"


async def test_signed_url_of_a_deleted_file_is_not_found(file_api: FileApi) -> None:
    async with file_api.client(file_api.caller()) as client:
        done = await _ready(file_api, client, "data.bin", b"soon gone")
        url = (await client.post(f"/files/{done['id']}/signed-url")).json()["url"]
        assert (await client.delete(f"/files/{done['id']}")).status_code == 204
    async with file_api.client(None) as anonymous:
        assert (await anonymous.get(url)).status_code == 404
