"""tenants: the outcome of each applied membership change, keyed by its idempotency key

Written in the same transaction as the change (``tenant.apply_membership_change``), so a
retried step finds the first outcome, with the rows as they were before it, even when the
worker died right after the commit.

Revision ID: tenants_0004
Revises: tenants_0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import enable_tenant_rls

revision = "tenants_0004"
down_revision = "tenants_0003"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "membership_change_outcomes",
        sa.Column("idempotency_key", sa.String(300), primary_key=True),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("outcome", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.tenants.id"],
            ondelete="CASCADE",
            name="fk_membership_change_outcomes_tenant_id_tenants",
        ),
        schema="tenants",
    )
    op.create_index(
        "ix_membership_change_outcomes_tenant_id",
        "membership_change_outcomes",
        ["tenant_id"],
        schema="tenants",
    )
    enable_tenant_rls("tenants", "membership_change_outcomes")


def downgrade() -> None:
    op.drop_table("membership_change_outcomes", schema="tenants")
