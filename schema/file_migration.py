"""GraphQL types of the storage migration (``migrateTenantStorage``): the input of a tenant's
``file_migration`` run, checked by the file service's own ``StorageMigrationRequest``
(``services/file/schemas.py``) so the two shapes cannot drift."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="A blob store the file service holds (ADX_BLOB_BACKEND's names).")
class BlobStoreName(Enum):
    LOCAL = "local"
    S3 = "s3"


@strawberry.input(
    description="Move the active tenant's files to `target` (docs/files.md, Moving a tenant's "
    "blobs): from `source` (null: the file service's default store), batchSize 1-500 files a "
    "batch."
)
class MigrateTenantStorageInput:
    target: BlobStoreName
    source: BlobStoreName | None = None
    batch_size: int = 20
