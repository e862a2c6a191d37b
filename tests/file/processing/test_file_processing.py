"""``file_processing`` end to end on the real stack: an upload that ends ``ready`` starts it
(the ``file-upload-processing`` patch), and what it makes is served by the thumbnail route.
With ``ADX_RECORD_HISTORIES=1`` the runs are the replay histories
``tests/histories/file_processing*.json`` and ``file_upload.processing*.json``."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import Settings
from services.file.tenant_storage.activities import TenantStorageActivities
from storage.db import transaction
from storage.files.renditions import FileProcessing, FileRendition
from tests.auth.mail_flows import record_history
from tests.file.file_api import FileApi, file_service
from tests.file.processing import images
from workflows.common.errors import business_error
from workflows.common.progress import PROGRESS_QUERY, Progress
from workflows.file import processing_contracts as contracts
from workflows.file.contracts import FileError
from workflows.file.file_processing import file_processing_workflow_id
from workflows.file.tenant_storage_contracts import EraseTenantStorageInput
from workflows.tenant.provisioning_contracts import storage_prefix

SIZES = contracts.THUMBNAIL_SIZES


async def _uploaded(api: FileApi, client: httpx.AsyncClient, name: str, data: bytes) -> str:
    answer = await api.upload(client, name, data)
    assert answer.status_code == 202, answer.text
    done = await api.settled(client, answer.json()["file"]["id"])
    assert done["status"] == "ready", done
    file_id: str = done["id"]
    return file_id


async def _processed(client: httpx.AsyncClient, file_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        answer = await client.get(f"/files/{file_id}/processing")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if body["status"] != "pending":
            return body
        assert time.monotonic() < deadline, "never processed"
        await asyncio.sleep(0.2)


async def _thumbnail(client: httpx.AsyncClient, file_id: str, size: int) -> Image.Image:
    answer = await client.get(f"/files/{file_id}/thumbnails/{size}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/webp"
    assert answer.headers["x-content-type-options"] == "nosniff"
    again = await client.get(
        f"/files/{file_id}/thumbnails/{size}", headers={"if-none-match": answer.headers["etag"]}
    )
    assert again.status_code == 304
    image = Image.open(io.BytesIO(answer.content))
    assert image.format == "WEBP"
    return image


async def _renditions(api: FileApi, tenant_id: uuid.UUID) -> list[FileRendition]:
    async with transaction(api.resources.database, tenant_id) as db:
        return list(await db.scalars(select(FileRendition)))


def _thumbnail_blobs(api: FileApi, tenant_id: uuid.UUID) -> list[str]:
    return [str(p) for p in api.blob_files(tenant_id) if "/thumbnails/" in str(p)]


async def test_png_gets_thumbnails_at_each_size(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        file_id = await _uploaded(file_api, client, "banner.png", images.png(640, 480))
        done = await _processed(client, file_id)
        assert (done["status"], done["width"], done["height"]) == ("done", 640, 480)
        assert [(t["size"], t["width"], t["height"]) for t in done["thumbnails"]] == [
            (128, 128, 96),
            (512, 512, 384),
        ]
        for entry in done["thumbnails"]:
            assert entry["url"] == f"/files/{file_id}/thumbnails/{entry['size']}"
            image = await _thumbnail(client, file_id, entry["size"])
            assert image.size == (entry["width"], entry["height"])
    run = file_api.resources.temporal.get_workflow_handle(file_processing_workflow_id(file_id))
    progress = await run.query(PROGRESS_QUERY, result_type=Progress)
    assert (progress.state, progress.percent) == ("completed", 100)
    assert (await run.result())["sizes"] == list(SIZES)
    await record_history(run, "file_processing")
    upload = file_api.resources.temporal.get_workflow_handle(f"file-upload-{file_id}")
    assert (await upload.result())["status"] == "ready"
    await record_history(upload, "file_upload.processing")


async def test_jpeg_thumbnails_carry_no_exif_or_gps(file_api: FileApi) -> None:
    original = images.jpeg_with_gps(1024, 768)
    assert images.GPS_IFD in Image.open(io.BytesIO(original)).getexif()
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        file_id = await _uploaded(file_api, client, "holiday.jpg", original)
        done = await _processed(client, file_id)
        assert (done["status"], done["width"], done["height"]) == ("done", 1024, 768)
        for size in SIZES:
            image = await _thumbnail(client, file_id, size)
            assert max(image.size) == size
            assert len(image.getexif()) == 0
            assert "exif" not in image.info and "xmp" not in image.info


async def test_animated_gif_gives_its_first_frame(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        file_id = await _uploaded(file_api, client, "blink.gif", images.animated_gif())
        done = await _processed(client, file_id)
        assert done["status"] == "done"
        image = await _thumbnail(client, file_id, 128)
        assert getattr(image, "n_frames", 1) == 1
        red, green, _ = image.convert("RGB").getpixel((10, 10))  # type: ignore[misc]
        assert red > 200 and green < 50


async def test_pdf_first_page_and_page_count(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        file_id = await _uploaded(file_api, client, "contract.pdf", images.pdf(3))
        done = await _processed(client, file_id)
        assert (done["status"], done["page_count"]) == ("done", 3)
        assert (done["width"], done["height"]) == (595, 842)
        image = await _thumbnail(client, file_id, 512)
        assert image.height == 512 and image.width == round(595 * 512 / 842)


async def test_decompression_bomb_is_refused_and_leaves_nothing(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        file_id = await _uploaded(file_api, client, "bomb.png", images.png_bomb())
        done = await _processed(client, file_id)
        assert done["status"] == "rejected"
        assert done["detail"].startswith("decompression bomb")
        assert done["thumbnails"] == []
        meta = await client.get(f"/files/{file_id}")
        assert meta.json()["status"] == "ready"
        missing = await client.get(f"/files/{file_id}/thumbnails/128")
        assert missing.status_code == 404
        # The service still works after it.
        other = await _uploaded(file_api, client, "fine.png", images.png(200, 100))
        assert (await _processed(client, other))["status"] == "done"
    rows = await _renditions(file_api, caller.tenant_id)
    assert {str(r.file_id) for r in rows} == {other}
    assert all(file_id not in p for p in _thumbnail_blobs(file_api, caller.tenant_id))


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("page.png", images.HTML_AS_PNG, "skipped"),
        ("broken.png", images.truncated_png(), "failed"),
        ("broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 50, "failed"),
    ],
)
async def test_unrenderable_files_are_recorded_not_thumbnailed(
    file_api: FileApi, name: str, data: bytes, status: str
) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        file_id = await _uploaded(file_api, client, name, data)
        done = await _processed(client, file_id)
        assert done["status"] == status, done
        assert done["thumbnails"] == [] and done["detail"]
        assert (await client.get(f"/files/{file_id}/thumbnails/128")).status_code == 404
    assert await _renditions(file_api, caller.tenant_id) == []
    assert _thumbnail_blobs(file_api, caller.tenant_id) == []


async def test_another_tenants_thumbnails_are_not_found(file_api: FileApi) -> None:
    owner, stranger = file_api.caller(), file_api.caller()
    async with file_api.client(owner) as client:
        file_id = await _uploaded(file_api, client, "secret.png", images.png(300, 300))
        assert (await _processed(client, file_id))["status"] == "done"
    async with file_api.client(stranger) as client:
        for path in (f"/files/{file_id}/thumbnails/128", f"/files/{file_id}/processing"):
            answer = await client.get(path)
            assert answer.status_code == 404, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
    async with file_api.client(owner, permissions=()) as client:
        assert (await client.get(f"/files/{file_id}/thumbnails/128")).status_code == 403
    async with file_api.client(None) as client:
        assert (await client.get(f"/files/{file_id}/thumbnails/128")).status_code == 401


async def test_bad_input_on_the_thumbnail_route(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        file_id = await _uploaded(file_api, client, "logo.png", images.png(64, 64))
        await _processed(client, file_id)
        for path in (
            f"/files/{file_id}/thumbnails/100",  # not a size that is made
            f"/files/{file_id}/thumbnails/0",
            f"/files/{file_id}/thumbnails/99999999999999999999",
            f"/files/{file_id}/thumbnails/big",
            # As long as a URL gets (httpx refuses more than 64 KiB).
            f"/files/{file_id}/thumbnails/" + "9" * 60_000,
            "/files/" + "a" * 60_000 + "/thumbnails/128",
            f"/files/{file_id}/thumbnails/%FF%FE",
            "/files/%FF%FE/processing",
            f"/files/{uuid.uuid4()}/thumbnails/128",
        ):
            answer = await client.get(path)
            assert 400 <= answer.status_code < 500, (path[:80], answer.status_code)
            assert answer.headers["content-type"] == "application/problem+json"


#: The blob store of the service under test, for the stand-in below.
_STORE: dict[str, Any] = {}


@contracts.PROCESS_FILE.implement
async def crashing_process(input: contracts.ProcessStepInput) -> contracts.ProcessFileOutput:
    """Writes one thumbnail blob, then fails for good (a renderer crashing half-way)."""
    key = f"tenants/{input.tenant_id}/thumbnails/{input.file_id}/128"
    await _STORE["blobs"].put(key, b"half a thumbnail")
    raise business_error(FileError.INVALID_INPUT, "the renderer crashed")


async def test_a_failed_run_removes_its_thumbnails(
    settings: Settings, file_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    replace = {"file.process_file": crashing_process}
    async with file_service(settings, file_resources, auth_runtime, None, replace) as api:
        _STORE["blobs"] = api.resources.blobs
        caller = api.caller()
        async with api.client(caller) as client:
            file_id = await _uploaded(api, client, "half.png", images.png(100, 100))
            done = await _processed(client, file_id)
        run = api.resources.temporal.get_workflow_handle(file_processing_workflow_id(file_id))
        result = await run.result()
        progress = await run.query(PROGRESS_QUERY, result_type=Progress)
    assert done["status"] == "failed" and done["detail"] == "InvalidInput: the renderer crashed"
    assert result["status"] == "failed" and progress.state == "failed"
    assert _thumbnail_blobs(api, caller.tenant_id) == []
    async with transaction(api.resources.database, caller.tenant_id) as db:
        outcome = await db.get(FileProcessing, (caller.tenant_id, uuid.UUID(file_id)))
    assert outcome is not None and outcome.status == "failed"
    await record_history(run, "file_processing.compensated")


async def test_tenant_erasure_removes_thumbnails(file_api: FileApi) -> None:
    caller = file_api.caller()
    async with file_api.client(caller) as client:
        file_id = await _uploaded(file_api, client, "team.png", images.png(300, 200))
        assert (await _processed(client, file_id))["status"] == "done"
    assert len(_thumbnail_blobs(file_api, caller.tenant_id)) == len(SIZES)
    tenant = str(caller.tenant_id)
    erase = EraseTenantStorageInput(tenant, storage_prefix(tenant), f"erase-{tenant}")
    with acting_as(SecurityContext.system("test")):
        await ActivityEnvironment().run(
            TenantStorageActivities(file_api.resources).erase_tenant_storage, erase
        )
    assert _thumbnail_blobs(file_api, caller.tenant_id) == []
    assert await _renditions(file_api, caller.tenant_id) == []
    async with transaction(file_api.resources.database, caller.tenant_id) as db:
        assert list(await db.scalars(select(FileProcessing))) == []
