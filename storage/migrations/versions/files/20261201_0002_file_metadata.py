"""files: the file model (folder, detected type, owner, status, scan verdict, version, soft
delete) and each tenant's storage policy (quota, allowed types), both under row-level security

Revision ID: files_0002
Revises: files_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import enable_tenant_rls

revision = "files_0002"
down_revision = "files_0001"
branch_labels = None
depends_on = None

STATUSES = "'uploading', 'scanning', 'ready', 'quarantined', 'rejected'"
VERDICTS = "'pending', 'clean', 'infected', 'not_scanned'"


def upgrade() -> None:
    columns: list[sa.Column[Any]] = [
        sa.Column("folder", sa.String(1024), server_default="/", nullable=False),
        sa.Column(
            "content_type",
            sa.String(255),
            server_default="application/octet-stream",
            nullable=False,
        ),
        sa.Column("owner_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("status", sa.String(16), server_default="ready", nullable=False),
        sa.Column("scan_verdict", sa.String(16), server_default="not_scanned", nullable=False),
        sa.Column("status_detail", sa.String(255), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    ]
    for column in columns:
        op.add_column("files", column, schema="files")
    op.create_check_constraint(
        op.f("ck_files_status"), "files", f"status IN ({STATUSES})", schema="files"
    )
    op.create_check_constraint(
        op.f("ck_files_scan_verdict"), "files", f"scan_verdict IN ({VERDICTS})", schema="files"
    )
    op.create_index(
        "ix_files_files_tenant_folder_name",
        "files",
        ["tenant_id", "folder", "name", "id"],
        schema="files",
    )
    op.create_table(
        "storage_policies",
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("quota_bytes", sa.BigInteger(), nullable=False),
        sa.Column("allowed_types", postgresql.ARRAY(sa.String(255)), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_storage_policies"),
        schema="files",
    )
    enable_tenant_rls("files", "storage_policies")


def downgrade() -> None:
    op.drop_table("storage_policies", schema="files")
    op.drop_index("ix_files_files_tenant_folder_name", "files", schema="files")
    op.drop_constraint("ck_files_scan_verdict", "files", schema="files")
    op.drop_constraint("ck_files_status", "files", schema="files")
    for name in (
        "deleted_at",
        "updated_at",
        "workflow_id",
        "version",
        "status_detail",
        "scan_verdict",
        "status",
        "owner_id",
        "content_type",
        "folder",
    ):
        op.drop_column("files", name, schema="files")
