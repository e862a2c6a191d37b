"""auth: a deactivated account (``user_deactivation``): ``disabled_at`` set, logins refused

Revision ID: auth_0006
Revises: auth_0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0006"
down_revision = "auth_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "credentials",
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        schema="auth",
    )


def downgrade() -> None:
    op.drop_column("credentials", "disabled_at", schema="auth")
