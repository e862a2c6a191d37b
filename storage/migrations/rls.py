"""Row-level security for tenant-owned tables, used by migrations."""

from __future__ import annotations

from alembic import op

from storage.db import ACTOR_SETTING, TENANT_SETTING

#: The transaction's tenant and acting user as SQL expressions (NULL when unset).
CURRENT_TENANT = f"NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid"
CURRENT_ACTOR = f"NULLIF(current_setting('{ACTOR_SETTING}', true), '')::uuid"


def enable_tenant_rls(schema: str, table: str, column: str = "tenant_id") -> None:
    """Only rows of the transaction's tenant are visible or writable, even to the table owner.

    FORCE makes the policy bind the owner too; the application role has no BYPASSRLS. With no
    tenant set, ``NULLIF(...)`` is NULL and the policy matches nothing.
    """
    qualified = f"{schema}.{table}"
    condition = f"{column} = {CURRENT_TENANT}"
    op.execute(f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {qualified} USING ({condition}) WITH CHECK ({condition})"
    )


def allow_own_rows(schema: str, table: str, name: str, condition: str) -> None:
    """A second, read-only policy: rows matching ``condition`` (which names ``CURRENT_ACTOR``,
    the acting user) are visible in any tenant, e.g. a user's own memberships. Permissive
    policies are OR-ed, so this widens reads only; writes stay bound to the tenant policy."""
    op.execute(f"CREATE POLICY {name} ON {schema}.{table} FOR SELECT USING ({condition})")
