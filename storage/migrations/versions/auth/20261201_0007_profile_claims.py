"""auth: the profile's display name on the credential (``user_profile_sync``), with the profile
version it came from, for the ``name`` claim of access tokens

Revision ID: auth_0007
Revises: auth_0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0007"
down_revision = "auth_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "credentials", sa.Column("display_name", sa.String(200), nullable=True), schema="auth"
    )
    op.add_column(
        "credentials",
        sa.Column("profile_version", sa.BigInteger, nullable=False, server_default="0"),
        schema="auth",
    )


def downgrade() -> None:
    op.drop_column("credentials", "profile_version", schema="auth")
    op.drop_column("credentials", "display_name", schema="auth")
