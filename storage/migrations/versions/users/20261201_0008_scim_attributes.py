"""users: what an identity provider says of a member or a group over SCIM beyond the platform's fields

``scim_users``: one row per member of a tenant that an IdP wrote over SCIM, the ``externalId``
(unique in the tenant: the IdP's own id, the first thing Okta and Entra ID filter on) and the
SCIM attributes the profile has no field for (``nickName``, ``addresses``, ``photos``, the rest
of ``name``, ...) as JSONB, so they round-trip. ``scim_groups``: a role's ``externalId``.
Both are the tenant's, personal data under row-level security by tenant (``tenant_isolation``),
never shared with another tenant's IdP.

Revision ID: users_0008
Revises: users_0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import enable_tenant_rls

revision = "users_0008"
down_revision = "users_0007"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "scim_users",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("external_id", sa.String(255)),
        sa.Column(
            "attributes", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
        *_timestamps(),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name="pk_scim_users"),
        schema="users",
    )
    op.create_index(
        "uq_scim_users_tenant_external_id",
        "scim_users",
        ["tenant_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
        schema="users",
    )
    enable_tenant_rls("users", "scim_users")

    op.create_table(
        "scim_groups",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("external_id", sa.String(255)),
        *_timestamps(),
        sa.PrimaryKeyConstraint("tenant_id", "role", name="pk_scim_groups"),
        schema="users",
    )
    op.create_index(
        "uq_scim_groups_tenant_external_id",
        "scim_groups",
        ["tenant_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
        schema="users",
    )
    enable_tenant_rls("users", "scim_groups")


def downgrade() -> None:
    op.drop_table("scim_groups", schema="users")
    op.drop_table("scim_users", schema="users")
