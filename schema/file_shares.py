"""GraphQL types of file sharing (``shares``, ``shareFile``, ``revokeShare``), built from the
file service's ``ShareOut`` and checked by its ``ShareRequest`` (``services/file/schemas.py``)
so the REST and GraphQL shapes cannot drift (docs/files.md, "Sharing")."""

from __future__ import annotations

from enum import Enum

import strawberry

from services.file.schemas import ShareOut


@strawberry.enum(description="Who a share reaches.")
class ShareKind(Enum):
    MEMBER = "member"
    ROLE = "role"
    TENANT = "tenant"
    LINK = "link"


@strawberry.enum(description="What a share lets its holders do (a link: download-only or edit).")
class SharePermission(Enum):
    VIEWER = "viewer"
    EDITOR = "editor"


@strawberry.experimental.pydantic.type(model=ShareOut)
class FileShare:
    """One share of a file: ``kind`` ``member`` (``grantee`` the user id), ``role`` (its
    name), ``tenant`` or ``link``; ``status`` ``active``, ``revoked`` or ``expired``;
    ``notifyStatus`` ``pending``, ``sent``, ``failed`` (the share works; ``notifyDetail`` says
    why) or ``none``; ``url`` a live link's path on the file service."""

    id: strawberry.ID
    file_id: strawberry.ID
    kind: strawberry.auto
    grantee: strawberry.auto
    permission: strawberry.auto
    status: strawberry.auto
    notify_status: strawberry.auto
    notify_detail: strawberry.auto
    password_protected: strawberry.auto
    expires_at: strawberry.auto
    created_by: strawberry.ID | None
    created_at: strawberry.auto
    revoked_at: strawberry.auto
    workflow_id: strawberry.ID | None
    url: strawberry.auto


def share_of(row: ShareOut) -> FileShare:
    return FileShare(**row.model_dump())


@strawberry.input(
    description="Share a file: with a member (grantee: their user id), a role (grantee: its "
    "name), the whole tenant, or by link (optional password and recipients to mail the link "
    "to); expiresInSeconds: the share ends by itself (null: until revoked)."
)
class ShareFileInput:
    file_id: strawberry.ID
    kind: ShareKind
    grantee: str | None = None
    permission: SharePermission = SharePermission.VIEWER
    expires_in_seconds: int | None = None
    password: str | None = None
    recipients: list[str] | None = None
