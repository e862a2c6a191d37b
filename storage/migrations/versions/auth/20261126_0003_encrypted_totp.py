"""auth: room for encrypted TOTP secrets

Revision ID: auth_0003
Revises: auth_0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0003"
down_revision = "auth_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Encrypted values ("enc:<kid>:<base64 nonce+ciphertext+tag>") are longer than the seed.
    op.alter_column(
        "totp_secrets", "secret", type_=sa.String(255), existing_nullable=False, schema="auth"
    )


def downgrade() -> None:
    op.alter_column(
        "totp_secrets", "secret", type_=sa.String(64), existing_nullable=False, schema="auth"
    )
