"""tenants: the tenant each user last switched into (``tenant_switching``), their own row only

Revision ID: tenants_0003
Revises: tenants_0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import CURRENT_ACTOR

revision = "tenants_0003"
down_revision = "tenants_0002"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "active_tenants",
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("previous_tenant_id", UUID),
        sa.Column("switched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.tenants.id"],
            ondelete="CASCADE",
            name="fk_active_tenants_tenant_id_tenants",
        ),
        schema="tenants",
    )
    # A user's own row, in whatever tenant the transaction is: keyed on the acting user.
    op.execute("ALTER TABLE tenants.active_tenants ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenants.active_tenants FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY own_row ON tenants.active_tenants"
        f" USING (user_id = {CURRENT_ACTOR}) WITH CHECK (user_id = {CURRENT_ACTOR})"
    )


def downgrade() -> None:
    op.drop_table("active_tenants", schema="tenants")
