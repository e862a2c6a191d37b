"""User service wiring: its features' routes on 8082, their activities on ``adx-user``."""

from __future__ import annotations

from services.common.feature import Feature
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName
from services.user import accounts, directory, preferences, profile_sync, profiles, scim
from services.user.activities import UserActivities
from services.user.first_run import FEATURE as FIRST_RUN
from services.user.routes import router

#: The batch read the gateway's loader uses, and the activities the auth service's sign-up
#: calls (the profile's creation and its compensation).
CORE = Feature(
    name="core",
    router=router,
    activities=lambda resources: UserActivities(resources).all(),
)
#: ``profiles`` first: ``/users/me`` before ``/users/{user_id}``.
FEATURES = (
    profiles.FEATURE,
    CORE,
    preferences.FEATURE,
    directory.FEATURE,
    scim.FEATURE,
    accounts.FEATURE,
    profile_sync.FEATURE,
    FIRST_RUN,
)

SPEC = ServiceSpec(name=ServiceName.user, title="ADX user service", features=FEATURES)
