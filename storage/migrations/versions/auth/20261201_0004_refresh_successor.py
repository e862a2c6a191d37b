"""auth: a spent refresh token keeps its successor sealed, for the reuse interval

Revision ID: auth_0004
Revises: auth_0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0004"
down_revision = "auth_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "<kid>:<base64 nonce+ciphertext+tag>" of the successor, under a key derived from the
    # spent token itself (services/auth/sessions.py): never the successor in clear.
    op.add_column("refresh_tokens", sa.Column("successor_sealed", sa.String(255)), schema="auth")


def downgrade() -> None:
    op.drop_column("refresh_tokens", "successor_sealed", schema="auth")
