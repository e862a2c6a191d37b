"""users: bulk operations over a tenant's users and their rows (``bulk_user_operation``)

An upload's rows are stored here and read by the workflow a batch at a time (it never carries the
whole input); each row keeps its result (status, error, user id) for the downloadable report.
Row-level security by tenant (``tenant_isolation``) on both tables.

Revision ID: users_0005
Revises: users_0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import enable_tenant_rls

revision = "users_0005"
down_revision = "users_0004"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def _at(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "bulk_operations",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("actor_id", UUID, nullable=False),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_bulk_operations"),
        sa.UniqueConstraint("workflow_id", name="uq_bulk_operations_workflow_id"),
        schema="users",
    )
    op.create_index(
        "ix_bulk_operations_tenant_id", "bulk_operations", ["tenant_id"], schema="users"
    )
    op.create_table(
        "bulk_operation_rows",
        sa.Column("operation_id", UUID, nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("data", postgresql.JSONB, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.String(500)),
        sa.Column("user_id", UUID),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("operation_id", "row_number", name="pk_bulk_operation_rows"),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["users.bulk_operations.id"],
            name="fk_bulk_operation_rows_operation_id_bulk_operations",
            ondelete="CASCADE",
        ),
        schema="users",
    )
    op.create_index(
        "ix_bulk_operation_rows_tenant_id", "bulk_operation_rows", ["tenant_id"], schema="users"
    )
    enable_tenant_rls("users", "bulk_operations")
    enable_tenant_rls("users", "bulk_operation_rows")


def downgrade() -> None:
    op.drop_table("bulk_operation_rows", schema="users")
    op.drop_table("bulk_operations", schema="users")
