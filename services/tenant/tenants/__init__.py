"""Tenants: the caller's tenants, one tenant, and renaming or re-setting it (``routes``).
Creating, suspending, deleting and upgrading tenants are workflows (``provisioning``,
``suspension``, ``billing``)."""

from services.common.feature import Feature
from services.tenant.tenants.routes import router

FEATURE = Feature(name="tenants", router=router)
