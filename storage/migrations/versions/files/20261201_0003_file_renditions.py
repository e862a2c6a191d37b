"""files: what ``file_processing`` found in a ready file (``file_processing``: status, reason,
width, height, page count) and the thumbnails it made (``file_renditions``), both under
row-level security

Revision ID: files_0003
Revises: files_0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import enable_tenant_rls

revision = "files_0003"
down_revision = "files_0002"
branch_labels = None
depends_on = None

OUTCOMES = "'done', 'skipped', 'rejected', 'failed'"


def upgrade() -> None:
    op.create_table(
        "file_processing",
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("file_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(255), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("page_count", sa.Integer(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("tenant_id", "file_id", name="pk_file_processing"),
        sa.CheckConstraint(f"status IN ({OUTCOMES})", name="ck_file_processing_status"),
        schema="files",
    )
    op.create_table(
        "file_renditions",
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("file_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("blob_key", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("tenant_id", "file_id", "size", name="pk_file_renditions"),
        schema="files",
    )
    enable_tenant_rls("files", "file_processing")
    enable_tenant_rls("files", "file_renditions")


def downgrade() -> None:
    op.drop_table("file_renditions", schema="files")
    op.drop_table("file_processing", schema="files")
