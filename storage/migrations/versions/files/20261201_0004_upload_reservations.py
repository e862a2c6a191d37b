"""files: the bytes an unfinished upload holds against its tenant's quota
(``upload_reservations``, row-level security)

Revision ID: files_0004
Revises: files_0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import enable_tenant_rls

revision = "files_0004"
down_revision = "files_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upload_reservations",
        sa.Column("upload_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("bytes >= 0", name="ck_upload_reservations_bytes"),
        sa.PrimaryKeyConstraint("upload_id", name="pk_upload_reservations"),
        schema="files",
    )
    op.create_index(
        "ix_files_upload_reservations_tenant_id",
        "upload_reservations",
        ["tenant_id"],
        schema="files",
    )
    enable_tenant_rls("files", "upload_reservations")


def downgrade() -> None:
    op.drop_table("upload_reservations", schema="files")
