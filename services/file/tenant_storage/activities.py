"""The file service's part of a tenant's life (queue ``<prefix>-file``): the storage prefix of a
new tenant (a marker blob), and the export and erasure of a deleted tenant's file rows and
blobs. Only the tenant flows run them (``require_flow``); each is idempotent (the marker and
export keys are fixed by the input, deleting twice changes nothing)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from services.common.resources import Resources
from services.common.security_context import require_context, require_flow
from services.file.processing.placement import delete_renditions
from storage.blobs import BlobNotFoundError, check_key
from storage.db import transaction
from storage.files.renditions import delete_tenant_renditions, tenant_rendition_keys
from storage.files.tenant_storage import delete_tenant_files, tenant_files
from workflows.common.errors import business_error
from workflows.file import tenant_storage_contracts as contracts
from workflows.tenant.contracts import TenantError, TenantWorkflow
from workflows.tenant.provisioning_contracts import storage_prefix

PROVISIONING = (TenantWorkflow.TENANT_PROVISIONING,)
#: Erasing: the provisioning's compensation, or a deletion.
ERASING = (TenantWorkflow.TENANT_PROVISIONING, TenantWorkflow.TENANT_SUSPENSION)


def _tenant(tenant_id: str, prefix: str) -> uuid.UUID:
    """The tenant's id, and a check that ``prefix`` is its own (a flow cannot name another)."""
    try:
        parsed = uuid.UUID(tenant_id)
    except ValueError as error:
        raise business_error(TenantError.INVALID_INPUT, "invalid tenant id") from error
    if prefix != storage_prefix(str(parsed)):
        raise business_error(TenantError.INVALID_INPUT, "not this tenant's storage prefix")
    return parsed


def _blob_key(prefix: str, blob_key: str) -> str:
    return blob_key if blob_key.startswith(prefix) else prefix + blob_key


class TenantStorageActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @contracts.PROVISION_TENANT_STORAGE.implement
    async def provision_tenant_storage(
        self, input: contracts.ProvisionTenantStorageInput
    ) -> contracts.ProvisionTenantStorageOutput:
        require_flow(require_context(), *PROVISIONING)
        _tenant(input.tenant_id, input.prefix)
        marker = check_key(input.prefix + contracts.PREFIX_MARKER)
        blobs = self.resources.blobs
        if await blobs.exists(marker):
            return contracts.ProvisionTenantStorageOutput(prefix=input.prefix, created=False)
        body = json.dumps({"tenant_id": input.tenant_id, "idempotency_key": input.idempotency_key})
        await blobs.put(marker, body.encode())
        return contracts.ProvisionTenantStorageOutput(prefix=input.prefix, created=True)

    @contracts.EXPORT_TENANT_FILES.implement
    async def export_tenant_files(
        self, input: contracts.ExportTenantFilesInput
    ) -> contracts.ExportTenantFilesOutput:
        require_flow(require_context(), TenantWorkflow.TENANT_SUSPENSION)
        tenant_id = _tenant(input.tenant_id, input.prefix)
        if not input.export_prefix.startswith(f"exports/tenants/{tenant_id}/"):
            raise business_error(TenantError.INVALID_INPUT, "not this tenant's export area")
        async with transaction(self.resources.database, tenant_id) as db:
            rows = await tenant_files(db, tenant_id)
        blobs = self.resources.blobs
        manifest: list[dict[str, Any]] = []
        total = 0
        for row in rows:
            source = _blob_key(input.prefix, row.blob_key)
            target = check_key(f"{input.export_prefix}files/{row.id}")
            exported = True
            if not await blobs.exists(target):
                try:
                    await blobs.put_stream(
                        target, self.resources.blob_store(row.store).stream(source)
                    )
                except BlobNotFoundError:
                    exported = False
            total += row.size if exported else 0
            manifest.append(
                {
                    "id": str(row.id),
                    "name": row.name,
                    "blob_key": row.blob_key,
                    "size": row.size,
                    "sha256": row.sha256,
                    "created_at": row.created_at.isoformat(),
                    "export_key": target if exported else None,
                }
            )
        manifest_key = check_key(f"{input.export_prefix}files.json")
        await blobs.put(manifest_key, json.dumps({"files": manifest}, indent=1).encode())
        return contracts.ExportTenantFilesOutput(
            manifest_key=manifest_key, files=len(rows), bytes=total
        )

    @contracts.ERASE_TENANT_STORAGE.implement
    async def erase_tenant_storage(
        self, input: contracts.EraseTenantStorageInput
    ) -> contracts.EraseTenantStorageOutput:
        require_flow(require_context(), *ERASING)
        tenant_id = _tenant(input.tenant_id, input.prefix)
        blobs = self.resources.blobs
        async with transaction(self.resources.database, tenant_id) as db:
            rows = await tenant_files(db, tenant_id)
            thumbnails = await tenant_rendition_keys(db, tenant_id)
        erased = 0
        for row in rows:
            await self.resources.blob_store(row.store).delete(_blob_key(input.prefix, row.blob_key))
            erased += 1
        # Thumbnails are in their files' stores (or, made before they moved, the default one).
        for store in sorted({row.store or "" for row in rows} | {""}):
            await delete_renditions(
                self.resources, store or None, {_blob_key(input.prefix, key) for key in thumbnails}
            )
        # Rows last: a retry after a crash still finds the blobs it has to delete.
        async with transaction(self.resources.database, tenant_id) as db:
            await delete_tenant_renditions(db, tenant_id)
            files = await delete_tenant_files(db, tenant_id)
        await blobs.delete(check_key(input.prefix + contracts.PREFIX_MARKER))
        return contracts.EraseTenantStorageOutput(files=files, blobs=erased)

    def all(self) -> list[Callable[..., Any]]:
        return [self.provision_tenant_storage, self.export_tenant_files, self.erase_tenant_storage]
