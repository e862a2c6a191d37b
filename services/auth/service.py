"""Auth service wiring: workflows and activities on ``adx-auth``, routes on 8081."""

from __future__ import annotations

from services.auth.activities import AuthActivities
from services.common.runner import ServiceSpec
from services.common.settings import ServiceName
from workflows.auth.user_registration import UserRegistrationWorkflow

SPEC = ServiceSpec(
    name=ServiceName.auth,
    title="ADX auth service",
    workflows=[UserRegistrationWorkflow],
    activities=lambda resources: AuthActivities(resources).all(),  # type: ignore[arg-type,return-value]
)
