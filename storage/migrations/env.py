"""Alembic environment: runs on the connection ``storage.migrate`` hands over in attributes."""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes["connection"]
schema = config.attributes["schema"]

context.configure(
    connection=connection,
    target_metadata=config.attributes.get("metadata"),
    version_table_schema=schema,
    include_schemas=True,
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
