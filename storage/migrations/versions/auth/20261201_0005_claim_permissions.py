"""auth: a member's effective permissions beside their roles, put in tokens as ``perms``

Revision ID: auth_0005
Revises: auth_0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "auth_0005"
down_revision = "auth_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Claims synced before this revision have none: their tokens carry an empty ``perms`` until
    # the tenant service syncs them again (a role change, a membership change).
    op.add_column(
        "principal_claims",
        sa.Column(
            "permissions", postgresql.ARRAY(sa.String(40)), server_default="{}", nullable=False
        ),
        schema="auth",
    )


def downgrade() -> None:
    op.drop_column("principal_claims", "permissions", schema="auth")
