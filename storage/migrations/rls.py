"""Row-level security for tenant-owned tables, used by migrations."""

from __future__ import annotations

from alembic import op

from storage.db import TENANT_SETTING


def enable_tenant_rls(schema: str, table: str) -> None:
    """Only rows of the transaction's tenant are visible or writable, even to the table owner.

    FORCE makes the policy bind the owner too; the application role has no BYPASSRLS. With no
    tenant set, ``NULLIF(...)`` is NULL and the policy matches nothing.
    """
    qualified = f"{schema}.{table}"
    condition = f"tenant_id = NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid"
    op.execute(f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {qualified} USING ({condition}) WITH CHECK ({condition})"
    )
