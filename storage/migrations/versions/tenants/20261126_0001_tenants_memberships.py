"""tenants: tenants and memberships (row-level security on memberships)

Revision ID: tenants_0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import enable_tenant_rls

revision = "tenants_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("slug", name="uq_tenants_slug"),
        schema="tenants",
    )
    op.create_table(
        "memberships",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_memberships"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.tenants.id"],
            ondelete="CASCADE",
            name="fk_memberships_tenant_id_tenants",
        ),
        sa.UniqueConstraint("tenant_id", "user_id", name="uq_memberships_tenant_id"),
        schema="tenants",
    )
    op.create_index(
        "ix_tenants_memberships_tenant_id", "memberships", ["tenant_id"], schema="tenants"
    )
    enable_tenant_rls("tenants", "memberships")


def downgrade() -> None:
    op.drop_table("memberships", schema="tenants")
    op.drop_table("tenants", schema="tenants")
