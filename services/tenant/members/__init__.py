"""Members: the tenant's member list, paged (``routes``). Role changes, removals and ownership
transfers are the ``membership_change`` workflow (``services/tenant/membership``); the rules
they keep are ``workflows/tenant/rules.py``."""

from services.common.feature import Feature
from services.tenant.members.routes import router

FEATURE = Feature(name="members", router=router)
