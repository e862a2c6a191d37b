"""tenants: the tenant model (status, plan and quotas, settings, billing), membership status,
custom roles, invitations and verified domains; row-level security on every table

Revision ID: tenants_0002
Revises: tenants_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import CURRENT_ACTOR, allow_own_rows, enable_tenant_rls

revision = "tenants_0002"
down_revision = "tenants_0001"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.tenants.id"],
        ondelete="CASCADE",
        name=f"fk_{table}_tenant_id_tenants",
    )


def upgrade() -> None:
    add = lambda column: op.add_column("tenants", column, schema="tenants")  # noqa: E731
    add(sa.Column("status", sa.String(20), server_default="provisioning", nullable=False))
    add(sa.Column("plan", sa.String(30), server_default="free", nullable=False))
    add(sa.Column("seat_quota", sa.Integer, server_default="5", nullable=False))
    add(
        sa.Column("storage_quota_bytes", sa.BigInteger, server_default=str(1024**3), nullable=False)
    )
    add(sa.Column("settings", postgresql.JSONB, server_default="{}", nullable=False))
    add(sa.Column("created_by", UUID, nullable=True))
    add(sa.Column("billing_customer_id", sa.String(100)))
    add(sa.Column("billing_subscription_id", sa.String(100)))
    add(sa.Column("storage_prefix", sa.String(200)))
    add(sa.Column("suspended_at", sa.DateTime(timezone=True)))
    add(sa.Column("delete_after", sa.DateTime(timezone=True)))
    add(sa.Column("idempotency_key", sa.String(300), nullable=True))
    add(
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        )
    )
    # Rows from before this revision (tests' and dev data only: no API created tenants).
    op.execute(
        "UPDATE tenants.tenants SET created_by = '00000000-0000-0000-0000-000000000000',"
        " idempotency_key = 'legacy:' || id::text"
    )
    op.alter_column("tenants", "created_by", nullable=False, schema="tenants")
    op.alter_column("tenants", "idempotency_key", nullable=False, schema="tenants")
    op.create_unique_constraint(
        "uq_tenants_idempotency_key", "tenants", ["idempotency_key"], schema="tenants"
    )
    op.create_check_constraint(
        "status",
        "tenants",
        "status IN ('provisioning', 'active', 'suspended', 'deleting', 'deleted')",
        schema="tenants",
    )

    op.add_column(
        "memberships",
        sa.Column("status", sa.String(20), server_default="active", nullable=False),
        schema="tenants",
    )
    op.add_column(
        "memberships",
        sa.Column(
            "joined_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        schema="tenants",
    )
    op.add_column(
        "memberships",
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        schema="tenants",
    )
    op.create_index("ix_tenants_memberships_user_id", "memberships", ["user_id"], schema="tenants")

    op.create_table(
        "roles",
        sa.Column("id", UUID, nullable=False),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("description", sa.String(500), server_default="", nullable=False),
        sa.Column("permissions", postgresql.ARRAY(sa.String(40)), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_roles"),
        _tenant_fk("roles"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_roles_tenant_id"),
        schema="tenants",
    )
    op.create_index("ix_tenants_roles_tenant_id", "roles", ["tenant_id"], schema="tenants")

    op.create_table(
        "invitations",
        sa.Column("id", UUID, nullable=False),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("inviter_id", UUID, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), server_default="pending", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_count", sa.Integer, server_default="1", nullable=False),
        sa.Column("accepted_by", UUID),
        sa.Column("responded_at", sa.DateTime(timezone=True)),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_invitations"),
        _tenant_fk("invitations"),
        sa.UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')",
            name="ck_invitations_status",
        ),
        schema="tenants",
    )
    op.create_index(
        "ix_tenants_invitations_tenant_id", "invitations", ["tenant_id"], schema="tenants"
    )
    # One pending invitation per address and tenant (a second invite resends the first).
    op.create_index(
        "uq_invitations_pending_email",
        "invitations",
        ["tenant_id", "email"],
        unique=True,
        schema="tenants",
        postgresql_where=sa.text("status = 'pending'"),
    )

    op.create_table(
        "domains",
        sa.Column("id", UUID, nullable=False),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("txt_token", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), server_default="pending", nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("auto_join_role", sa.String(50)),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_domains"),
        _tenant_fk("domains"),
        sa.UniqueConstraint("tenant_id", "domain", name="uq_domains_tenant_id"),
        schema="tenants",
    )
    op.create_index("ix_tenants_domains_tenant_id", "domains", ["tenant_id"], schema="tenants")
    # A verified domain belongs to one tenant (pending claims may compete until one proves it).
    op.create_index(
        "uq_domains_verified_domain",
        "domains",
        ["domain"],
        unique=True,
        schema="tenants",
        postgresql_where=sa.text("status = 'verified'"),
    )

    for table in ("roles", "invitations", "domains"):
        enable_tenant_rls("tenants", table)
    enable_tenant_rls("tenants", "tenants", column="id")
    # A user sees their own memberships in every tenant, and the tenants they belong to.
    allow_own_rows("tenants", "memberships", "own_memberships", f"user_id = {CURRENT_ACTOR}")
    allow_own_rows(
        "tenants",
        "tenants",
        "member_tenants",
        "EXISTS (SELECT 1 FROM tenants.memberships m"  # noqa: S608 (constants)
        f" WHERE m.tenant_id = tenants.id AND m.user_id = {CURRENT_ACTOR})",
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS member_tenants ON tenants.tenants")
    op.execute("DROP POLICY IF EXISTS own_memberships ON tenants.memberships")
    op.execute("DROP POLICY IF EXISTS tenant_isolation ON tenants.tenants")
    op.execute("ALTER TABLE tenants.tenants NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenants.tenants DISABLE ROW LEVEL SECURITY")
    op.drop_table("domains", schema="tenants")
    op.drop_table("invitations", schema="tenants")
    op.drop_table("roles", schema="tenants")
    op.drop_index("ix_tenants_memberships_user_id", "memberships", schema="tenants")
    for column in ("updated_at", "joined_at", "status"):
        op.drop_column("memberships", column, schema="tenants")
    op.drop_constraint("ck_tenants_status", "tenants", schema="tenants")
    op.drop_constraint("uq_tenants_idempotency_key", "tenants", schema="tenants")
    for column in (
        "updated_at",
        "idempotency_key",
        "delete_after",
        "suspended_at",
        "storage_prefix",
        "billing_subscription_id",
        "billing_customer_id",
        "created_by",
        "settings",
        "storage_quota_bytes",
        "seat_quota",
        "plan",
        "status",
    ):
        op.drop_column("tenants", column, schema="tenants")
