"""The tenant directory: the user service's own copy of who belongs to which tenant, fed by the
tenant flows through the activities on ``adx-user`` (``activities``), searched and paged over
HTTP (``routes``). It never reads the tenants schema nor calls the tenant service."""

from services.common.feature import Feature
from services.user.directory.activities import DirectoryActivities
from services.user.directory.routes import router

FEATURE = Feature(
    name="directory",
    router=router,
    activities=lambda resources: DirectoryActivities(resources).all(),
)
