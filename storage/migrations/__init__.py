"""Alembic migrations: one linear history per service schema, applied by ``adx migrate``."""
