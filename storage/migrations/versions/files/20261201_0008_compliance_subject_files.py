"""files: a read-only policy on ``files.files`` for the GDPR procedures: the files of the
person named by the transaction's ``adx.compliance_subject`` setting, in every tenant, so an
export or erasure finds the files they own in a tenant they have left. Only the file service's
compliance activities set that setting (after checking the step acts for that person); no
request sets it, so the file routes see what they saw before.

Revision ID: files_0008
Revises: files_0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "files_0008"
down_revision = "files_0007"
branch_labels = None
depends_on = None

#: storage.files.compliance.SUBJECT_SETTING (a migration keeps its own copy of the name).
SUBJECT = "NULLIF(current_setting('adx.compliance_subject', true), '')::uuid"


def upgrade() -> None:
    op.execute(
        f"CREATE POLICY compliance_subject_files ON files.files FOR SELECT "
        f"USING (owner_id = {SUBJECT})"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_files_files_owner_id ON files.files (owner_id, tenant_id)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS files.ix_files_files_owner_id")
    op.execute("DROP POLICY IF EXISTS compliance_subject_files ON files.files")
