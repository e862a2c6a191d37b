"""users: SCIM bearer tokens, per tenant (services/user/scim/)

Only the SHA-256 digest of a token is stored. Row-level security by tenant
(``tenant_isolation``): a token is looked up inside the tenant its text names, so a token of
tenant A is never even compared with tenant B's rows.

Revision ID: users_0003
Revises: users_0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import enable_tenant_rls

revision = "users_0003"
down_revision = "users_0002"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "scim_tokens",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_by", UUID, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_scim_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_scim_tokens_token_hash"),
        schema="users",
    )
    op.create_index("ix_scim_tokens_tenant_id", "scim_tokens", ["tenant_id"], schema="users")
    enable_tenant_rls("users", "scim_tokens")


def downgrade() -> None:
    op.drop_table("scim_tokens", schema="users")
