"""Tenant service (port 8085, task queue ``adx-tenant``): tenants, memberships, roles, plans."""
