"""Persistence: database engines, tenant-scoped repositories, Redis, blob stores and migrations."""
