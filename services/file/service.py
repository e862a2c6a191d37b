"""File service wiring (routes on 8083, queue ``adx-file``; docs/files.md)."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import create_app
from services.common.feature import Feature, routers_of
from services.common.resources import Resources
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName
from services.file import (
    downloads,
    files,
    migration,
    owner_names,
    processing,
    purge,
    quota,
    reconciliation,
    sharing,
    tenant_storage,
    uploads,
    user_files,
)
from services.file.compliance import FEATURE as COMPLIANCE
from services.file.uploads.tus import hide_transport_headers

#: Its capabilities, as ``Feature``s (``services/common/feature.py``): uploads (``file_upload``),
#: downloads and signed URLs, file metadata (uploads and downloads first: their fixed paths
#: before ``/files/{file_id}``), the activities the tenant flows call (a tenant's storage
#: prefix, export and erasure), a deactivated user's files (``user_deactivation``, a no-op so far),
#: and the tenant's storage policy as its plan sets it (``quota``).
FEATURES: tuple[Feature, ...] = (
    uploads.FEATURE,
    purge.FEATURE,  # soft-deleted files removed for good (file_purge); before /files/{id}
    downloads.FEATURE,
    processing.FEATURE,  # thumbnails and metadata (file_processing)
    files.FEATURE,
    tenant_storage.FEATURE,
    user_files.FEATURE,
    owner_names.FEATURE,
    quota.FEATURE,
    reconciliation.FEATURE,  # the storage quota copy checked by data_migration
    migration.FEATURE,  # a tenant's blobs moved to another store (file_migration)
    sharing.FEATURE,  # shares, their links and file_sharing
    COMPLIANCE,  # GDPR export and erasure (workflows/compliance)
)

#: Upload routes that stream their bodies to storage under limits of their own (the direct
#: upload's ``ADX_FILE_MAX_DIRECT_UPLOAD_MIB`` and quota, tus's declared length and quota), not
#: under ``ADX_MAX_BODY_BYTES``.
STREAMED_PATHS = ("/files", "/uploads/tus/")
TITLE = "ADX file service"


def create_file_app(resources: Resources) -> FastAPI:
    app = create_app(
        resources, title=TITLE, routers=routers_of(FEATURES), streamed_paths=STREAMED_PATHS
    )
    hide_transport_headers(app)
    return app


SPEC = ServiceSpec(
    name=ServiceName.file, title=TITLE, features=FEATURES, app_factory=create_file_app
)
