"""users: profile fields, preferences (per user, and per user in a tenant), the tenant directory

The directory is the user service's own copy of who belongs to which tenant (fed by the tenant
workflows' activities on ``adx-user``), with the member's names and address copied from the
profile for search: trigram (``pg_trgm``) GIN indexes serve prefix and typo-tolerant matching.

Row-level security: ``directory`` and the per-tenant ``preferences`` rows are the tenant's
(``tenant_isolation``); a user's own directory entries are readable, and their names updatable,
in every tenant (a profile change reaches each copy); user-level preferences (no tenant) are
their user's only.

Revision ID: users_0002
Revises: users_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations.rls import CURRENT_ACTOR, allow_own_rows, enable_tenant_rls

revision = "users_0002"
down_revision = "users_0001"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def _now() -> sa.Column[Any]:
    return sa.Column(
        "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    # A trusted extension (PostgreSQL 13+): the schema owner may create it without superuser.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    for column in (
        sa.Column("given_name", sa.String(100)),
        sa.Column("family_name", sa.String(100)),
        sa.Column("avatar_file_id", UUID),
        sa.Column("locale", sa.String(35)),
        sa.Column("time_zone", sa.String(64)),
        sa.Column("title", sa.String(100)),
        sa.Column("phone", sa.String(20)),
        sa.Column("status", sa.String(20), server_default="active", nullable=False),
        _now(),
    ):
        op.add_column("profiles", column, schema="users")
    op.create_check_constraint(
        "ck_profiles_status", "profiles", "status IN ('active', 'deactivated')", schema="users"
    )

    op.create_table(
        "preferences",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("user_id", UUID, nullable=False),
        # NULL: the user's own preferences, in every tenant.
        sa.Column("tenant_id", UUID),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("values", postgresql.JSONB, nullable=False),
        _now(),
        schema="users",
    )
    op.create_index(
        "uq_preferences_user",
        "preferences",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("tenant_id IS NULL"),
        schema="users",
    )
    op.create_index(
        "uq_preferences_tenant_user",
        "preferences",
        ["tenant_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("tenant_id IS NOT NULL"),
        schema="users",
    )
    enable_tenant_rls("users", "preferences")
    own = f"tenant_id IS NULL AND user_id = {CURRENT_ACTOR}"
    op.execute(
        f"CREATE POLICY own_preferences ON users.preferences USING ({own}) WITH CHECK ({own})"
    )

    op.create_table(
        "directory",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        # Copied from the profile (``''`` until there is one): what search and sort read.
        sa.Column("display_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("email", sa.String(320), nullable=False, server_default=""),
        #: display, given and family name in one text, for search.
        sa.Column("name_text", sa.String(410), nullable=False, server_default=""),
        _now(),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name="pk_directory"),
        schema="users",
    )
    op.create_index("ix_directory_user_id", "directory", ["user_id"], schema="users")
    op.execute(
        "CREATE INDEX ix_directory_name_trgm ON users.directory USING gin "
        "(lower(name_text) gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_directory_email_trgm ON users.directory USING gin "
        "(lower(email) gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_directory_tenant_name ON users.directory "
        "(tenant_id, lower(display_name), user_id)"
    )
    enable_tenant_rls("users", "directory")
    mine = f"user_id = {CURRENT_ACTOR}"
    allow_own_rows("users", "directory", "own_entries", mine)
    op.execute(
        f"CREATE POLICY own_entries_names ON users.directory FOR UPDATE USING ({mine}) "
        f"WITH CHECK ({mine})"
    )


def downgrade() -> None:
    op.drop_table("directory", schema="users")
    op.drop_table("preferences", schema="users")
    op.drop_constraint("ck_profiles_status", "profiles", schema="users")
    for name in (
        "updated_at",
        "status",
        "phone",
        "title",
        "time_zone",
        "locale",
        "avatar_file_id",
        "family_name",
        "given_name",
    ):
        op.drop_column("profiles", name, schema="users")
