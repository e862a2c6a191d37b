"""GraphQL types of files, built from the file service's response models
(``services/file/schemas.py``) field for field. Byte counts are ``Float`` (GraphQL's ``Int`` is
32-bit; a Float is exact up to 2^53 bytes)."""

from __future__ import annotations

import strawberry

from schema.pagination import PageInfo
from schema.tenants import uuid_arg
from schema.users import User
from schema.workflow_runs import WorkflowRun
from services.common.settings import ServiceName
from services.file.schemas import FileOut, ProcessingOut, SignedUrl, ThumbnailOut, UploadPlan

#: The file service's limits (``services/file/files/routes.py``), checked before a value
#: becomes part of a URL.
MAX_NAME = 1024
MAX_SEARCH = 255


@strawberry.experimental.pydantic.type(model=ThumbnailOut, all_fields=True)
class Thumbnail:
    """A WebP thumbnail fitting in a ``size`` px box; ``url`` is its path on the file service
    (``GET /files/{id}/thumbnails/{size}``, with your token)."""


@strawberry.experimental.pydantic.type(model=ProcessingOut, all_fields=True)
class FileProcessing:
    """What ``file_processing`` found: ``status`` ``pending``, ``done``, ``skipped`` (not an
    image or PDF), ``rejected`` (a decompression bomb, over the size cap) or ``failed``
    (undecodable); the original's ``width``/``height`` and a PDF's ``pageCount``."""

    thumbnails: list[Thumbnail]


@strawberry.experimental.pydantic.type(model=FileOut)
class File:
    """The file service's ``FileOut``; ``status`` is ``uploading``, ``scanning``, ``ready``,
    ``quarantined`` or ``rejected``; ``workflowId`` the ``file_upload`` run."""

    id: strawberry.ID
    name: strawberry.auto
    folder: strawberry.auto
    size: float = strawberry.field(description="Bytes (a Float: exact up to 2^53).")
    content_type: strawberry.auto
    sha256: strawberry.auto
    owner_id: strawberry.ID | None
    status: strawberry.auto
    scan_verdict: strawberry.auto
    status_detail: strawberry.auto
    version: strawberry.auto
    workflow_id: strawberry.ID | None
    created_at: strawberry.auto
    updated_at: strawberry.auto

    @strawberry.field(
        description="Who uploaded it, from the user service (batched: one read for every owner "
        "of the answer); null where the user service shows you none."
    )
    async def owner(self, info: strawberry.Info) -> User | None:
        if self.owner_id is None:
            return None
        row = await info.context.users.load(str(self.owner_id))
        return None if row is None else User.of(row)

    @strawberry.field(
        description="A signed link to download this version of the file without a token, "
        "made by the file service (FILE_NOT_READY until the file is ready); a path on the file "
        "service."
    )
    async def download_url(self, info: strawberry.Info) -> str:
        path = f"/files/{uuid_arg(str(self.id), 'file id')}/signed-url"
        files = info.context.service(ServiceName.file, signed_in=True)
        return (await files.call("POST", path, response=SignedUrl)).url

    processing: FileProcessing | None = strawberry.field(
        default=None,
        description="What file processing found (in the file service's answer: no extra call); "
        "null until the file is ready.",
    )

    @strawberry.field(
        description="The file's thumbnails, smallest first (empty until processing is done, "
        "and for files that are not images or PDFs)."
    )
    def thumbnails(self) -> list[Thumbnail]:
        return [] if self.processing is None else self.processing.thumbnails


def file_of(row: FileOut) -> File:
    # (pydantic types keep no methods of their own: the builders live beside them)
    processing = row.processing
    return File(
        **{
            **row.model_dump(exclude={"processing"}),
            "processing": None if processing is None else processing_of(processing),
        }
    )


def processing_of(row: ProcessingOut) -> FileProcessing:
    thumbnails = [Thumbnail(**t.model_dump()) for t in row.thumbnails]
    return FileProcessing(**{**row.model_dump(exclude={"thumbnails"}), "thumbnails": thumbnails})


@strawberry.type
class FileEdge:
    cursor: str
    node: File


@strawberry.type(description="A page of files, by name; folders directly below the listed one.")
class FileConnection:
    edges: list[FileEdge]
    page_info: PageInfo
    folders: list[str] = strawberry.field(
        description="Subfolders of the listed folder (first page only, not with a search)."
    )


@strawberry.type(description="One HTTP header to send.")
class Header:
    name: str
    value: str


@strawberry.experimental.pydantic.type(model=UploadPlan)
class UploadTarget:
    """Where and how to send the bytes: ``protocol`` ``direct`` (``method`` ``url`` with
    ``headers`` and the body) or ``tus`` (a tus 1.0 creation request at ``url`` with
    ``headers``, then ``PATCH``es at the ``Location`` it answers). Send your bearer token too."""

    protocol: strawberry.auto
    method: strawberry.auto
    url: strawberry.auto
    headers: list[Header]
    max_direct_bytes: float
    room_bytes: float = strawberry.field(description="Bytes left under the tenant's quota.")
    file_id: strawberry.ID = strawberry.field(
        description="The file's id, fixed now (the upload_id the url or the tus metadata carry)."
    )
    workflow_id: strawberry.ID = strawberry.field(
        description="The file's file_upload run, started now and waiting for the bytes."
    )
    run: WorkflowRun = strawberry.field(
        description="That run, with its accessToken: follow it with workflowProgress from "
        "before the first byte (receiving, validating, scanning, then ready)."
    )


def upload_target(plan: UploadPlan, run: WorkflowRun) -> UploadTarget:
    headers = [Header(name=k, value=v) for k, v in plan.headers.items()]
    fields = {**plan.model_dump(), "file_id": str(plan.file_id)}
    return UploadTarget(**{**fields, "headers": headers, "run": run})


@strawberry.input(description="A file about to be uploaded.")
class CreateUploadInput:
    name: str = strawberry.field(description="1-255 characters; no '/', NUL or control chars.")
    size: float = strawberry.field(description="Its length in bytes.")
    folder: str = "/"
