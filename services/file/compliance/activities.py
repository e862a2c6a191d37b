"""The file service's GDPR activities (queue ``<prefix>-file``): the person's files and shares
in each of their tenants and in every tenant where they still own files (one they left: no
membership names it), under RLS; the export archive; the erasure of files and blobs."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from temporalio import activity

from services.common.compliance import (
    as_json,
    checked_request_id,
    parse_id,
    require_erasure_step,
    require_subject_step,
    write_part,
)
from services.common.resources import Resources
from services.file.compliance.archive import Entry, zip_stream
from storage.db import transaction
from storage.files import compliance
from workflows.common.compliance import (
    EXPORT_PREFIX,
    ErasePartInput,
    ErasePartOutput,
    ExportPartInput,
    ExportPartOutput,
    export_archive_key,
)
from workflows.file.compliance_contracts import (
    BUILD_EXPORT_ARCHIVE,
    ERASE_FILE_DATA,
    EXPORT_FILE_DATA,
    BuildArchiveInput,
    BuildArchiveOutput,
)

SERVICE = "file"
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
README = (
    "Your ADX data export (GDPR Art. 15 and 20).\n\n"
    "<service>.json: what each service holds about you, as JSON.\n"
    "files/<tenant id>/<file id>/<name>: the bytes of every file you own that is ready.\n"
    "manifest.json: the files listed with their tenant, folder and size.\n"
)


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip(" .")[:120] or "file"


class FileComplianceActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.database = resources.database
        self.blobs = resources.blobs

    async def _tenants(self, user_id: uuid.UUID, tenant_ids: list[str]) -> list[uuid.UUID]:
        """The workflow's tenants (their memberships), then the others holding their files."""
        tenants = [parse_id(raw, "tenant id") for raw in tenant_ids]
        async with transaction(self.database) as db:
            elsewhere = await compliance.tenants_with_files(db, user_id)
        return list(dict.fromkeys([*tenants, *elsewhere]))

    @EXPORT_FILE_DATA.implement
    async def export_personal_data(self, input: ExportPartInput) -> ExportPartOutput:
        user_id = parse_id(input.user_id)
        require_subject_step(user_id)
        document: dict[str, Any] = {"tenants": {}}
        counts: dict[str, int] = {}
        for tenant_id in await self._tenants(user_id, input.tenant_ids):
            async with transaction(self.database, tenant_id) as db:
                rows = await compliance.file_rows(db, user_id)
            document["tenants"][str(tenant_id)] = {
                k: [as_json(r) for r in v] for k, v in rows.items()
            }
            for name, found in rows.items():
                counts[name] = counts.get(name, 0) + len(found)
        key = await write_part(self.blobs, input.export_id, SERVICE, document)
        return ExportPartOutput(SERVICE, key, counts)

    @BUILD_EXPORT_ARCHIVE.implement
    async def build_export_archive(self, input: BuildArchiveInput) -> BuildArchiveOutput:
        user_id = parse_id(input.user_id)
        require_subject_step(user_id)
        export_id = checked_request_id(input.export_id)
        prefix = f"{EXPORT_PREFIX}/{export_id}/"
        parts = [p for p in input.parts if p.startswith(prefix) and p.endswith(".json")]
        entries = [Entry("README.txt", lambda: _bytes(README.encode()))]
        for part in parts:
            entries.append(Entry(part.removeprefix(prefix), self._blob(part)))
        manifest: list[dict[str, Any]] = []
        for tenant_id in await self._tenants(user_id, input.tenant_ids):
            async with transaction(self.database, tenant_id) as db:
                owned = await compliance.owned_files(db, user_id)
            for file in owned:
                if file.status != "ready":
                    continue
                name = f"files/{tenant_id}/{file.id}/{_safe(file.name)}"
                entries.append(Entry(name, self._blob(file.blob_key)))
                manifest.append(
                    {
                        "path": name,
                        "tenant_id": str(tenant_id),
                        "folder": file.folder,
                        "name": file.name,
                        "size": file.size,
                    }
                )
        entries.append(
            Entry("manifest.json", lambda: _bytes(json.dumps(manifest, indent=2).encode()))
        )
        # A failure part way leaves no object (put_stream is all or nothing); the workflow's
        # compensation removes the parts.
        info = await self.blobs.put_stream(export_archive_key(export_id), self._beating(entries))
        return BuildArchiveOutput(info.key, info.size, info.sha256, len(manifest))

    async def _beating(self, entries: list[Entry]) -> AsyncIterator[bytes]:
        async for chunk in zip_stream(entries):
            activity.heartbeat()
            yield chunk

    def _blob(self, key: str) -> Callable[[], AsyncIterator[bytes]]:
        return lambda: self.blobs.stream(key)

    @ERASE_FILE_DATA.implement
    async def erase_personal_data(self, input: ErasePartInput) -> ErasePartOutput:
        require_erasure_step()
        user_id = parse_id(input.user_id)
        deleted: dict[str, int] = {"blobs": 0}
        for tenant_id in await self._tenants(user_id, input.tenant_ids):
            async with transaction(self.database, tenant_id) as db:
                owned = await compliance.owned_files(db, user_id)
                ids = [f.id for f in owned]
                keys = await compliance.blob_keys_of(db, ids)
            # Blobs first, rows after: a retry after a crash between the two still finds the
            # rows, hence the keys (deleting a missing blob is no error).
            for key in keys:
                # Every store the process holds: file_migration may have moved the blob.
                for store in {
                    id(s): s for s in (self.blobs, *self.resources.blob_stores.values())
                }.values():
                    await store.delete(key)
                deleted["blobs"] += 1
            async with transaction(self.database, tenant_id) as db:
                for name, count in (await compliance.erase_in_tenant(db, user_id, ids)).items():
                    deleted[name] = deleted.get(name, 0) + count
        return ErasePartOutput(SERVICE, deleted)

    def all(self) -> list[Callable[..., Any]]:
        return [self.export_personal_data, self.build_export_archive, self.erase_personal_data]


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data
