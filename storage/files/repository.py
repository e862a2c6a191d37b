"""File metadata repository."""

from __future__ import annotations

from storage.files.models import FileRecord
from storage.repository import TenantScopedRepository


class FileRepository(TenantScopedRepository[FileRecord]):
    model = FileRecord
