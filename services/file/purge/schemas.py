"""Bodies of ``POST /storage/purges`` (``file_purge``; docs/files.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from workflows.file.purge_contracts import MAX_BATCH, MAX_RETENTION_SECONDS


class FilePurgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Purge files soft-deleted longer ago than this; None: ``ADX_FILE_PURGE_RETENTION_SECONDS``.
    retention_seconds: int | None = Field(None, ge=0, le=MAX_RETENTION_SECONDS)
    #: Files per batch (one activity each).
    batch_size: int = Field(50, ge=1, le=MAX_BATCH)


class FilePurgeStarted(BaseModel):
    #: ``file-purge-<tenant id>``: follow it with ``workflowProgress``.
    workflow_id: str
    retention_seconds: int
