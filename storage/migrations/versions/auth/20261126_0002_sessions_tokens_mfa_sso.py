"""auth: sessions, refresh and one-time tokens, TOTP, recovery codes, SSO identities, claims, audit

Revision ID: auth_0002
Revises: auth_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "auth_0002"
down_revision = "auth_0001"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def _created() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def _user_fk(name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["auth.credentials.id"], ondelete="CASCADE", name=name
    )


def upgrade() -> None:
    op.alter_column("credentials", "password_hash", nullable=True, schema="auth")
    op.add_column(
        "credentials",
        sa.Column("mfa_enabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        schema="auth",
    )
    op.add_column(
        "credentials",
        sa.Column("password_changed_at", sa.DateTime(timezone=True)),
        schema="auth",
    )
    op.create_table(
        "sessions",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("tenant_id", UUID),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "last_seen_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_reason", sa.String(50)),
        sa.Column("auth_methods", postgresql.ARRAY(sa.String(20)), nullable=False),
        sa.Column("user_agent", sa.String(300)),
        sa.Column("ip", sa.String(64)),
        _created(),
        _user_fk("fk_sessions_user_id_credentials"),
        schema="auth",
    )
    op.create_index("ix_auth_sessions_user_id", "sessions", ["user_id"], schema="auth")
    op.create_table(
        "refresh_tokens",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("session_id", UUID, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        _created(),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth.sessions.id"],
            ondelete="CASCADE",
            name="fk_refresh_tokens_session_id_sessions",
        ),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
        schema="auth",
    )
    op.create_index(
        "ix_auth_refresh_tokens_session_id", "refresh_tokens", ["session_id"], schema="auth"
    )
    op.create_table(
        "one_time_tokens",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("purpose", sa.String(30), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("workflow_id", sa.String(255)),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        _created(),
        _user_fk("fk_one_time_tokens_user_id_credentials"),
        sa.UniqueConstraint("token_hash", name="uq_one_time_tokens_token_hash"),
        sa.UniqueConstraint("idempotency_key", name="uq_one_time_tokens_idempotency_key"),
        schema="auth",
    )
    op.create_index(
        "ix_auth_one_time_tokens_user_id", "one_time_tokens", ["user_id"], schema="auth"
    )
    op.create_table(
        "totp_secrets",
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_step", sa.BigInteger()),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        _created(),
        _user_fk("fk_totp_secrets_user_id_credentials"),
        schema="auth",
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        _created(),
        _user_fk("fk_recovery_codes_user_id_credentials"),
        schema="auth",
    )
    op.create_index("ix_auth_recovery_codes_user_id", "recovery_codes", ["user_id"], schema="auth")
    op.create_table(
        "sso_identities",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("issuer", sa.String(300), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("email", sa.String(320)),
        _created(),
        _user_fk("fk_sso_identities_user_id_credentials"),
        sa.UniqueConstraint("issuer", "subject", name="uq_sso_identities_issuer"),
        schema="auth",
    )
    op.create_index("ix_auth_sso_identities_user_id", "sso_identities", ["user_id"], schema="auth")
    op.create_table(
        "principal_claims",
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("tenant_id", UUID, primary_key=True),
        sa.Column("roles", postgresql.ARRAY(sa.String(50)), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        schema="auth",
    )
    op.create_table(
        "audit_events",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("event", sa.String(60), nullable=False),
        sa.Column("user_id", UUID),
        sa.Column("session_id", UUID),
        sa.Column("ip", sa.String(64)),
        sa.Column("detail", postgresql.JSONB(), server_default="{}", nullable=False),
        schema="auth",
    )
    op.create_index("ix_auth_audit_events_at", "audit_events", ["at"], schema="auth")
    op.create_index("ix_auth_audit_events_user_id", "audit_events", ["user_id"], schema="auth")


def downgrade() -> None:
    for table in (
        "audit_events",
        "principal_claims",
        "sso_identities",
        "recovery_codes",
        "totp_secrets",
        "one_time_tokens",
        "refresh_tokens",
        "sessions",
    ):
        op.drop_table(table, schema="auth")
    op.drop_column("credentials", "password_changed_at", schema="auth")
    op.drop_column("credentials", "mfa_enabled", schema="auth")
    op.alter_column("credentials", "password_hash", nullable=False, schema="auth")
