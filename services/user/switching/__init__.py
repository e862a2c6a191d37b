"""User capability: the ``last_tenant`` preference a tenant switch records (``tenant_switching``,
a tenant service workflow; the switch itself is the auth service's)."""

from services.common.feature import Feature
from services.user.switching.activities import SwitchingActivities

FEATURE = Feature(
    name="switching",
    activities=lambda resources: SwitchingActivities(resources).all(),
)
