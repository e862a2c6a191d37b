"""Who may do what with the files (one place, used by every route that names a file): the caller's active tenant (the token's ``tid``) and its
permissions there (the ``perms`` claim: ``files.read``, ``files.write``). Rows are read under
that tenant's RLS scope (``TenantDb``), so another tenant's file is not found (404), never
forbidden."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import IntEnum

from services.common.tokens import Principal
from services.file.errors import file_error, not_found
from storage.db import DbSession
from storage.files.models import FileRecord, SharePermission
from storage.files.repository import FileRepository
from storage.files.shares import ShareRepository
from workflows.file.contracts import FileError
from workflows.tenant.permissions import Permission


def require(principal: Principal, permission: Permission) -> uuid.UUID:
    """The active tenant, if the caller holds ``permission`` there (403 naming it if not)."""
    if principal.tenant_id is None:
        raise file_error(
            FileError.PERMISSION_DENIED, "switch to a tenant first: files are a tenant's"
        )
    if permission.value not in principal.permissions:
        raise file_error(
            FileError.PERMISSION_DENIED, f"this needs the {permission.value} permission"
        )
    return uuid.UUID(principal.tenant_id)


def user_id(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(principal.user_id)
    except ValueError:
        return None


class Access(IntEnum):
    """What a caller may do with one file: the best of the tenant permission (``files.read``:
    viewer of every file, ``files.write``: editor of every file), ownership, and the file's live
    shares with them (their user id, one of their roles, the whole tenant)."""

    NONE = 0
    VIEWER = 1
    EDITOR = 2
    OWNER = 3


_SHARED = {SharePermission.VIEWER.value: Access.VIEWER, SharePermission.EDITOR.value: Access.EDITOR}
#: The tenant permission that alone is enough, per level needed (``OWNER``: deleting).
_TENANT_PERMISSION = {
    Access.VIEWER: Permission.FILES_READ,
    Access.EDITOR: Permission.FILES_WRITE,
    Access.OWNER: Permission.FILES_WRITE,
}


def _owns(principal: Principal, row: FileRecord) -> bool:
    """The caller owns the file. Ownership counts only while the caller's role lets them read
    the tenant's files (``files.read``): a role without it takes their own files away too,
    as before sharing; shares made to them still count."""
    return row.owner_id is not None and str(row.owner_id) == principal.user_id


async def access_to(db: DbSession, principal: Principal, row: FileRecord) -> Access:
    level = Access.NONE
    if Permission.FILES_WRITE.value in principal.permissions:
        level = Access.EDITOR
    elif Permission.FILES_READ.value in principal.permissions:
        level = Access.VIEWER
    if level and _owns(principal, row):
        return Access.OWNER
    if level >= Access.EDITOR:
        return level
    granted = await ShareRepository(db, row.tenant_id).grants(
        row.id, principal.user_id, principal.roles, datetime.now(UTC)
    )
    return max([level, *(_SHARED[p] for p in granted)])


async def file_for(
    db: DbSession, principal: Principal, file_id: uuid.UUID, needed: Access
) -> FileRecord:
    """The live file, if the caller's access to it is at least ``needed`` (``OWNER``: the
    owner, or ``files.write`` in the tenant: deleting). Without the tenant permission that
    ``needed`` asks for, a file the caller cannot see is refused (403) as before sharing; with
    it, an unknown file is a 404; another tenant's file is never read (RLS)."""
    if principal.tenant_id is None:
        raise file_error(
            FileError.PERMISSION_DENIED, "switch to a tenant first: files are a tenant's"
        )
    tenant_id = uuid.UUID(principal.tenant_id)
    permission = _TENANT_PERMISSION[needed]
    by_tenant = permission.value in principal.permissions
    row = await FileRepository(db, tenant_id).visible(file_id)
    if row is None:
        if by_tenant:
            raise not_found()
        raise file_error(
            FileError.PERMISSION_DENIED, f"this needs the {permission.value} permission"
        )
    if by_tenant or await access_to(db, principal, row) >= needed:
        return row
    raise file_error(
        FileError.PERMISSION_DENIED,
        f"this needs the {permission.value} permission or a {needed.name.lower()} share",
    )


async def file_to_share(db: DbSession, principal: Principal, file_id: uuid.UUID) -> FileRecord:
    """The live file, if the caller may make, list and revoke its shares: its owner, an
    editor by share, or a holder of ``files.share`` who can read it (``files.write`` alone
    does not share: the tenant's roles decide who shares)."""
    if principal.tenant_id is None:
        raise file_error(
            FileError.PERMISSION_DENIED, "switch to a tenant first: files are a tenant's"
        )
    tenant_id = uuid.UUID(principal.tenant_id)
    sharer = Permission.FILES_SHARE.value in principal.permissions
    row = await FileRepository(db, tenant_id).visible(file_id)
    if row is None:
        if sharer:
            raise not_found()
        raise file_error(FileError.PERMISSION_DENIED, "this needs the files.share permission")
    if Permission.FILES_READ.value in principal.permissions and _owns(principal, row):
        return row
    granted = await ShareRepository(db, tenant_id).grants(
        row.id, principal.user_id, principal.roles, datetime.now(UTC)
    )
    if SharePermission.EDITOR.value in granted:
        return row
    if sharer and await access_to(db, principal, row) >= Access.VIEWER:
        return row
    raise file_error(
        FileError.PERMISSION_DENIED,
        "sharing needs the files.share permission, ownership or an editor share",
    )
