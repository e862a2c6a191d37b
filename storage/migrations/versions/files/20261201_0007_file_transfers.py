"""files: the files a deactivation moved to another owner (``file_transfers``: one row per file
and run, so a reactivation or the run's own compensation moves back exactly those), under
row-level security, plus a read-only own-rows policy for the user the files came from

Revision ID: files_0007
Revises: files_0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import CURRENT_ACTOR, allow_own_rows, enable_tenant_rls

revision = "files_0007"
down_revision = "files_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_transfers",
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("file_id", postgresql.UUID(as_uuid=True), nullable=False),
        #: ``<workflow id>:<run id>`` of the run that moved the file.
        sa.Column("transfer_key", sa.String(255), nullable=False),
        sa.Column("from_user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("to_user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "moved_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("transfer_key", "file_id", name="pk_file_transfers"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.files.id"], name="fk_file_transfers_file_id", ondelete="CASCADE"
        ),
        schema="files",
    )
    op.create_index(
        "ix_files_file_transfers_from_user",
        "file_transfers",
        ["from_user_id", "tenant_id"],
        schema="files",
    )
    enable_tenant_rls("files", "file_transfers")
    allow_own_rows("files", "file_transfers", "own_transfers", f"from_user_id = {CURRENT_ACTOR}")


def downgrade() -> None:
    op.drop_table("file_transfers", schema="files")
