"""Auth capability: registration (``POST /auth/register``, ``POST /auth/verify-email``), the
``user_registration`` workflow and its activities."""

from services.auth.registration.activities import RegistrationActivities
from services.auth.registration.routes import router
from services.auth.runtime import with_runtime
from services.common.feature import Feature
from workflows.auth.user_registration import UserRegistrationWorkflow

FEATURE = Feature(
    name="registration",
    router=router,
    workflows=[UserRegistrationWorkflow],
    activities=with_runtime(lambda runtime: RegistrationActivities(runtime).all()),
)
