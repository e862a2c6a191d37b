"""Roles: the built-in roles and the tenant's custom ones; creating, changing and deleting
custom roles (``routes``), and ``role_change``, which creates or deletes one for the tenant's
identity provider over SCIM (``activities``; docs/users.md)."""

from services.common.feature import Feature
from services.tenant.roles.activities import RoleActivities
from services.tenant.roles.routes import router
from workflows.tenant.role_change import RoleChangeWorkflow

FEATURE = Feature(
    name="roles",
    router=router,
    workflows=[RoleChangeWorkflow],
    activities=lambda resources: RoleActivities(resources).all(),
)
