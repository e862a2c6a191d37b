"""The file domain's errors as HTTP answers, mapped once (as ``services/tenant/errors.py``).

Every ``FileError`` (``workflows/file/contracts.py``) has one status here; routes raise
``file_error(FileError.X, detail)``; a rule of ``workflows/file/rules.py`` broken becomes
``InvalidInput`` through :func:`from_rule`. The problem+json body carries ``code``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from services.common.errors import DomainError
from workflows.file.contracts import FileError
from workflows.file.rules import FileRuleViolation

STATUS: Final[Mapping[FileError, tuple[int, str]]] = {
    FileError.INVALID_INPUT: (422, "Invalid input"),
    # Another tenant's file, a deleted one, an unknown id: one answer.
    FileError.FILE_NOT_FOUND: (404, "Not found"),
    FileError.TYPE_NOT_ALLOWED: (415, "Type not allowed"),
    FileError.TOO_LARGE: (413, "Too large"),
    FileError.QUOTA_EXCEEDED: (413, "Storage quota exceeded"),
    FileError.PERMISSION_DENIED: (403, "Permission denied"),
    FileError.SCAN_FAILED: (503, "Scan failed"),
    FileError.FILE_NOT_READY: (409, "File not ready"),
    FileError.INVALID_SIGNATURE: (403, "Invalid signature"),
    FileError.URL_EXPIRED: (410, "Link expired"),
    FileError.PASSWORD_REQUIRED: (401, "Password required"),
    FileError.WRONG_PASSWORD: (403, "Wrong password"),
    FileError.SHARE_ENDED: (410, "Share ended"),
}

PROBLEM_BASE: Final = "https://adx.dev/problems/file/"


class FileProblem(DomainError):
    def __init__(self, error: FileError, detail: str, **extra: object) -> None:
        super().__init__(detail, extra={"code": error.value, **extra})
        self.error = error
        self.status, self.title = STATUS[error]
        self.type = PROBLEM_BASE + error.value


def file_error(error: FileError, detail: str, **extra: object) -> FileProblem:
    return FileProblem(error, detail, **extra)


def from_rule(violation: FileRuleViolation) -> FileProblem:
    return FileProblem(FileError.INVALID_INPUT, str(violation))


def not_found() -> FileProblem:
    return FileProblem(FileError.FILE_NOT_FOUND, "no such file")
