"""User service wiring: activities on ``adx-user``, routes on 8082."""

from __future__ import annotations

from services.common.runner import ServiceSpec
from services.common.settings import ServiceName
from services.user.activities import UserActivities
from services.user.routes import router

SPEC = ServiceSpec(
    name=ServiceName.user,
    title="ADX user service",
    routers=lambda _: [router],
    activities=lambda resources: UserActivities(resources).all(),  # type: ignore[arg-type,return-value]
)
