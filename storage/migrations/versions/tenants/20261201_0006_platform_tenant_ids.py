"""tenants: a read-only policy on ``tenants.tenants`` for the platform's reconciliation: every
tenant row is visible to a transaction whose ``adx.platform_reader`` setting is
``tenant-ids``. Only ``tenant.reconcile_list_tenants`` sets it (after checking that the platform
itself runs it, and auditing the call) and reads the ids alone; no request sets it, so every
other path sees what it saw before (its own tenant, its memberships' tenants).

Revision ID: tenants_0006
Revises: tenants_0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "tenants_0006"
down_revision = "tenants_0005"
branch_labels = None
depends_on = None

#: storage.tenants.reconciliation.PLATFORM_READER (a migration keeps its own copy).
READER = "NULLIF(current_setting('adx.platform_reader', true), '')"


def upgrade() -> None:
    op.execute(
        "CREATE POLICY platform_tenant_ids ON tenants.tenants FOR SELECT "
        f"USING ({READER} = 'tenant-ids')"
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS platform_tenant_ids ON tenants.tenants")
