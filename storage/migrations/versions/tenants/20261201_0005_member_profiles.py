"""tenants: the member's display name and address on each membership (the member list shows
them), copied from the profile by ``user_profile_sync`` with the profile version they came from

Revision ID: tenants_0005
Revises: tenants_0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tenants_0005"
down_revision = "tenants_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in (
        sa.Column("display_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("email", sa.String(320), nullable=False, server_default=""),
        sa.Column("profile_version", sa.BigInteger, nullable=False, server_default="0"),
    ):
        op.add_column("memberships", column, schema="tenants")


def downgrade() -> None:
    for name in ("profile_version", "email", "display_name"):
        op.drop_column("memberships", name, schema="tenants")
