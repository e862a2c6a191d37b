"""files: a file's shares (``file_shares``: with a member, a role, the whole tenant or by link;
viewer or editor; expiry, optional link password, revocation), under row-level security

Revision ID: files_0005
Revises: files_0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import enable_tenant_rls

revision = "files_0005"
down_revision = "files_0004"
branch_labels = None
depends_on = None

KINDS = "'member', 'role', 'tenant', 'link'"
PERMISSIONS = "'viewer', 'editor'"
STATUSES = "'active', 'revoked', 'expired'"
NOTIFY = "'pending', 'sent', 'failed', 'none'"


def upgrade() -> None:
    op.create_table(
        "file_shares",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("file_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        #: The member's user id or the role's name; NULL for the whole tenant and for a link.
        sa.Column("grantee", sa.String(255), nullable=True),
        sa.Column("permission", sa.String(8), nullable=False),
        #: A link's optional password (argon2id), never the password itself.
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(8), nullable=False, server_default="active"),
        sa.Column("notify_status", sa.String(8), nullable=False, server_default="pending"),
        sa.Column("notify_detail", sa.String(255), nullable=True),
        sa.Column("created_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("workflow_id", sa.String(255), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_file_shares"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.files.id"], name="fk_file_shares_file_id", ondelete="CASCADE"
        ),
        sa.CheckConstraint(f"kind IN ({KINDS})", name="ck_file_shares_kind"),
        sa.CheckConstraint(f"permission IN ({PERMISSIONS})", name="ck_file_shares_permission"),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_file_shares_status"),
        sa.CheckConstraint(f"notify_status IN ({NOTIFY})", name="ck_file_shares_notify_status"),
        sa.CheckConstraint(
            "(kind IN ('member', 'role')) = (grantee IS NOT NULL)", name="ck_file_shares_grantee"
        ),
        sa.CheckConstraint(
            "password_hash IS NULL OR kind = 'link'", name="ck_file_shares_password_hash"
        ),
        schema="files",
    )
    op.create_index(
        "ix_files_file_shares_tenant_file", "file_shares", ["tenant_id", "file_id"], schema="files"
    )
    op.create_index(
        "ix_files_file_shares_tenant_grantee",
        "file_shares",
        ["tenant_id", "kind", "grantee"],
        schema="files",
    )
    enable_tenant_rls("files", "file_shares")


def downgrade() -> None:
    op.drop_table("file_shares", schema="files")
