"""users: first-run set-ups of members (``user_first_run``, services/user/first_run/)

One row per member and tenant: the profile-completion checklist, what the set-up created (for
its compensation) and when the welcome mail went out. Row-level security by tenant.

Revision ID: users_0004
Revises: users_0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import enable_tenant_rls

revision = "users_0004"
down_revision = "users_0003"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "first_runs",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("checklist", postgresql.JSONB, nullable=False),
        sa.Column("created", postgresql.JSONB, nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("welcome_sent_at", sa.DateTime(timezone=True)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name="pk_first_runs"),
        schema="users",
    )
    op.create_index("ix_first_runs_tenant_id", "first_runs", ["tenant_id"], schema="users")
    enable_tenant_rls("users", "first_runs")


def downgrade() -> None:
    op.drop_table("first_runs", schema="users")
