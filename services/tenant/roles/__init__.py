"""Roles: the built-in roles and the tenant's custom ones; creating, changing and deleting
custom roles (``routes``)."""

from services.common.feature import Feature
from services.tenant.roles.routes import router

FEATURE = Feature(name="roles", router=router)
