"""Who may do what with the files: the caller's active tenant (the token's ``tid``) and its
permissions there (the ``perms`` claim: ``files.read``, ``files.write``). Rows are read under
that tenant's RLS scope (``TenantDb``), so another tenant's file is not found (404), never
forbidden."""

from __future__ import annotations

import uuid

from services.common.tokens import Principal
from services.file.errors import file_error
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
