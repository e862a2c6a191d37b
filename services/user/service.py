"""User service wiring: its features' routes on 8082, their activities on ``adx-user``."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import create_app
from services.common.feature import Feature, routers_of
from services.common.resources import Resources
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName
from services.user import (
    accounts,
    bulk,
    directory,
    preferences,
    profile_sync,
    profiles,
    reconciliation,
    scim,
    switching,
)
from services.user.activities import UserActivities
from services.user.compliance import FEATURE as COMPLIANCE
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
    bulk.FEATURE,
    reconciliation.FEATURE,
    switching.FEATURE,
    COMPLIANCE,  # GDPR export and erasure (workflows/compliance)
)

#: The bulk upload reads its body under its own limits (``workflows/user/bulk_contracts.py``
#: ``MAX_BYTES``, ``MAX_ROWS``), not under ``ADX_MAX_BODY_BYTES``.
STREAMED_PATHS = ("/users/bulk/operations",)
TITLE = "ADX user service"


def create_user_app(resources: Resources) -> FastAPI:
    return create_app(
        resources, title=TITLE, routers=routers_of(FEATURES), streamed_paths=STREAMED_PATHS
    )


SPEC = ServiceSpec(
    name=ServiceName.user, title=TITLE, features=FEATURES, app_factory=create_user_app
)
