"""Tenant service data (schema ``tenants``): tenants and memberships."""
