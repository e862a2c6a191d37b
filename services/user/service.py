"""User service wiring: its features' routes on 8082, their activities on ``adx-user``."""

from __future__ import annotations

from services.common.feature import Feature
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName
from services.user.activities import UserActivities
from services.user.routes import router

#: Profiles: the routes, and the activities the auth service's registration calls.
PROFILES = Feature(
    name="profiles",
    router=router,
    activities=lambda resources: UserActivities(resources).all(),
)
FEATURES = (PROFILES,)

SPEC = ServiceSpec(name=ServiceName.user, title="ADX user service", features=FEATURES)
