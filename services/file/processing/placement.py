"""Where a file's thumbnails live: in the store its row names (``files.store``), beside its
bytes, so ``file_migration`` moves them with the file and a tenant moved off a store leaves
nothing behind in it. Thumbnails made before they moved with their file may still be in the
default store: reads fall back to it and deletes clear both."""

from __future__ import annotations

import contextlib

from services.common.resources import Resources
from storage.blobs import BlobNotFoundError, BlobStore, BlobStoreError


def rendition_store(resources: Resources, file_store: str | None) -> BlobStore:
    """The store a new thumbnail of a file in ``file_store`` is written to."""
    return resources.blob_store(file_store)


def rendition_stores(resources: Resources, file_store: str | None) -> list[BlobStore]:
    """Every store a file's thumbnails may be in: its own first, then the default one."""
    stores = [resources.blobs]
    with contextlib.suppress(BlobStoreError):  # a store this process lacks holds nothing of ours
        stores.insert(0, resources.blob_store(file_store))
    return list(dict.fromkeys(stores))


async def read_rendition(resources: Resources, file_store: str | None, key: str) -> bytes | None:
    """A thumbnail's bytes, or None when no store has them."""
    for store in rendition_stores(resources, file_store):
        with contextlib.suppress(BlobNotFoundError):
            return await store.get(key)
    return None


async def delete_renditions(resources: Resources, file_store: str | None, keys: set[str]) -> None:
    for store in rendition_stores(resources, file_store):
        for key in sorted(keys):
            await store.delete(key)
