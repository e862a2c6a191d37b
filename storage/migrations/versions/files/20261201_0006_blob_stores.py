"""files: the blob store holding each file's bytes (``files.store``; NULL: the process's
default store), set by ``file_migration`` as it moves a tenant's blobs

Revision ID: files_0006
Revises: files_0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "files_0006"
down_revision = "files_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("files", sa.Column("store", sa.String(16), nullable=True), schema="files")


def downgrade() -> None:
    op.drop_column("files", "store", schema="files")
